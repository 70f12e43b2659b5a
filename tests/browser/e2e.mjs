#!/usr/bin/env node
// End-to-end test of Passerelle in headless Chromium, with axe-core
// accessibility checks (WCAG 2.0/2.1 A and AA) on each page visited.
//
//   node tests/browser/e2e.mjs
//
// Environment:
//   PASSERELLE_BIN   passerelle binary (default: target/debug/passerelle,
//                    relative paths are taken from the repository root)
//   CHROMIUM_BIN     browser executable (default: /usr/bin/chromium)
//
// Steps: create an admin account with `passerelle admin create` (SQLite in a
// temporary data dir), start `passerelle serve` on a free loopback port, then
// in the browser: home page, sign-in with e-mail + password, TOTP second
// factor computed here from the otpauth:// secret, landing on /operateur (the opérateur's work).
// Then Aidants Connect, on a second `passerelle serve --demo` (fresh SQLite
// database and data dir; FranceConnect simulator, demonstration online
// service, demo aidants whose password and TOTP secret are read from the
// server's stdout, kept in memory only): the aidant signs in, has the usager
// identified with the simulator, concludes a mandate (récapitulatif,
// declaration, fresh TOTP if asked), downloads its attestation PDF, then signs
// in to /service-demo "for" the usager through /oidc/authorize; in another
// browser context the usager signs in to /espace-usager with the simulator,
// sees the mandate and its use, revokes a démarche (confirmation, receipt)
// and signs out.
// Screenshots and the server logs (stderr) go to test-results/; the logs are
// checked for secrets. Exits 1 on any failed step or accessibility violation.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, BIN, CHROMIUM, NAV_TIMEOUT_MS, RESULTS, ROOT,
  base32Decode, checkA11y, clickAndWait, expectPath, fail, freePort, lastServer, nextCode, openPage,
  parseOtpauth, pass, run, screenshot, selfTestTotp, serverLogTail, sleep, startServer, stopServer,
  submitForm, text, totp, visit, waitHealthy, counts, finish, checkPhoneLayout,
} from './lib/outils.mjs';

// ---------------------------------------------------------------- main

// The pages every signed-in opérateur may open, visited at 1280 px (axe-core) and at 375 px.
const PAGES = [
  ['/lieux?q=Bordeaux&ouvert_maintenant=', 'recherche de lieux'],
  ['/lieux?q=Saint-Denis', 'recherche d’une commune sans lieu, avec ses homonymes'],
  ['/lieux/mednum-3', 'page d’un lieu'],
  ['/lieux/mednum-3/modifier', 'modification d’un lieu'],
  ['/operateur/lieux/import', 'import de lieux'],
  ['/operateur/lieux/doublons', 'doublons de l’annuaire'],
  ['/operateur', 'espace opérateur'],
  ['/operateur/journal', 'journal'],
  ['/commandes', 'commandes'],
  ['/commandes/nouvelle', 'nouvelle commande'],
  ['/commandes/1', 'une commande'],
  ['/commandes/1/rapport', 'rapport d’une commande'],
  ['/rapports', 'rapports'],
  ['/reglements', 'règlements'],
  ['/reglements/coordonnees', 'coordonnées bancaires à valider'],
  ['/qualification', 'qualification des lieux'],
  ['/operateur/corrections', 'corrections de lieux proposées par les hubs'],
  ['/activite/structure', 'activité d’une structure (opérateur)'],
  ['/operateur/habilitations?etat=toutes', 'habilitations Aidants Connect'],
  ['/operateur/aidants', 'formation des aidants'],
  ['/aidants-connect/habilitation', 'demande d’habilitation'],
  ['/connexion/lien', 'lien de connexion'],
  ['/connexion/totp-recent?suivant=/mon-compte', 'code récent'],
  ['/accessibilite', 'déclaration d’accessibilité'],
  ['/aider-un-proche', 'aider un proche'],
  ['/espace-usager', 'espace usager (connexion)'],
  ['/open-data/', 'données ouvertes'],
  ['/tableau-de-bord', 'tableau de bord national'],
  ['/tableau-de-bord?carte=heures', 'tableau de bord national, carte des heures'],
  ['/operateur/tableau-de-bord', 'tableau de bord de l’opérateur'],
  ['/ressources', 'centre de ressources'],
  ['/operateur/ressources', 'gestion des ressources'],
  ['/operateur/ressources/nouvelle', 'nouvelle ressource'],
];

async function main() {
  selfTestTotp();
  fs.mkdirSync(RESULTS, { recursive: true });
  if (!fs.existsSync(BIN)) throw new Error(`passerelle binary not found: ${BIN} (set PASSERELLE_BIN)`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'passerelle-e2e-'));
  const db = `sqlite:${dataDir}/passerelle.db`;
  let browser = null;
  let page = null;
  let current = 'setup';
  const cspViolations = [];
  let demoDir = null;
  let demoSecrets = [];
  let demoLogPath = null;
  try {
    // 1. Admin account.
    current = 'admin create';
    const created = await run(BIN, ['admin', 'create', '--email', ADMIN_EMAIL, '--database-url', db], {
      env: { ...process.env, PASSERELLE_DATA_DIR: dataDir, PASSERELLE_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const otp = parseOtpauth(created.stdout);
    pass('admin create prints an otpauth://totp/ URI');

    // 1b. A few places in the directory.
    current = 'lieux import';
    await run(BIN, ['lieux', 'import', path.join(ROOT, 'crates/passerelle/tests/fixtures/lieux/propre.csv'), '--database-url', db], {
      env: { ...process.env, PASSERELLE_DATA_DIR: dataDir },
    });
    pass('lieux import of the fixture');

    // 1c. A Pass Numérique order, paid and issued, its first booklet handed out.
    current = 'pass numérique';
    const cli = (args) => run(BIN, [...args, '--database-url', db], { env: { ...process.env, PASSERELLE_DATA_DIR: dataDir } });
    await cli(['territoires', 'charger', '--dossier', path.join(ROOT, 'node_modules/@etalab/decoupage-administratif/data')]);
    const funder = (await cli(['organisations', 'creer', '--type', 'commanditaire', '--nom', 'Département de la Gironde'])).stdout.trim();
    const order = (await cli(['commandes', 'creer', '--commanditaire', funder, '--carnets', '2', '--debut', '2020-01-01',
      '--fin', '2099-12-31', '--perimetre', '33'])).stdout.trim();
    const codesFile = path.join(dataDir, 'codes.csv');
    await cli(['commandes', 'emettre', order, '--codes', codesFile, '--url-base', 'http://localhost:8080']);
    await cli(['commandes', 'payer', order, '--reference', 'VIR-E2E']);
    const firstCode = fs.readFileSync(codesFile, 'utf8').split('\n')[1].split(',')[2];
    await cli(['carnets', 'remettre', fs.readFileSync(codesFile, 'utf8').split('\n')[1].split(',')[0], '--public', 'seniors', '--commune', '33318']);
    await cli(['lieux', 'qualifier', 'mednum-2']);
    const apiKey = JSON.parse((await cli(['lieux', 'cle-api', 'mednum-2', '--json'])).stdout).cle;
    pass('pass numérique order issued, paid, booklet handed out');

    // 2. Server.
    current = 'serve + /healthz';
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    startServer(db, port, dataDir);
    await waitHealthy(base);
    pass(`server answers ${base}/healthz`);

    // A cheque redeemed through the API, so that the reports have figures and charts.
    current = 'redeem a cheque';
    const redeemed = await fetch(`${base}/api/v1/cheques/encaisser`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, 'idempotency-key': 'e2e-1' },
      body: JSON.stringify({ code: fs.readFileSync(codesFile, 'utf8').split('\n')[2].split(',')[2], service: 'Accès internet et matériel informatique' }),
    });
    if (redeemed.status !== 201) throw new Error(`redeem answered ${redeemed.status}: ${await redeemed.text()}`);
    pass('POST /api/v1/cheques/encaisser: one cheque redeemed');

    // 3. Browser.
    current = 'launch chromium';
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await openPage(browser, cspViolations);

    current = 'home page';
    await visit(page, base, '/');
    await screenshot(page, 'accueil');
    pass('GET /');
    await checkA11y(page, 'accueil');

    current = 'cheque page';
    await visit(page, base, `/c/${firstCode.replace(/-/g, '')}`);
    await screenshot(page, 'cheque');
    if (!(await page.content()).includes('Ce chèque est valable')) throw new Error('la page du chèque ne le dit pas valable');
    pass('GET /c/{code}: the holder sees a valid cheque and where to use it');
    await checkA11y(page, 'cheque');

    current = 'a visitor on a phone (375 px): home, search, a place';
    await page.setViewportSize({ width: 375, height: 812 });
    await visit(page, base, '/');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: NAV_TIMEOUT_MS }),
      page.locator('.fr-card__footer a[href="/lieux"]').first().click(),
    ]);
    await expectPath(page, '/lieux');
    await page.fill('#q', 'Pessac');
    await submitForm(page, '#q');
    const phoneHeading = (await page.locator('#resultats').textContent()) || '';
    if (!/lieux? trouvés? .*Pessac/.test(phoneHeading)) throw new Error(`search heading on a phone: ${JSON.stringify(phoneHeading.trim())}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) throw new Error(`the results page is ${overflow} px wider than the phone`);
    await screenshot(page, 'telephone-recherche');
    await checkA11y(page, 'recherche sur téléphone');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: NAV_TIMEOUT_MS }),
      page.locator('.fr-card__title a').first().click(),
    ]);
    if (!new URL(page.url()).pathname.startsWith('/lieux/')) throw new Error(`the first result led to ${page.url()}`);
    const placeText = await page.locator('main').textContent() || '';
    if (!placeText.includes('Horaires des sept prochains jours') && !placeText.includes('Horaires')) throw new Error('the place page shows no opening hours');
    await screenshot(page, 'telephone-lieu');
    await checkA11y(page, 'page d’un lieu sur téléphone');
    pass('a visitor on a phone goes from the home page to a place near a commune, no page wider than the screen');
    await page.setViewportSize({ width: 1280, height: 900 });

    current = 'search for a place, then the keyboard';
    await visit(page, base, '/lieux');
    await page.fill('#q', 'Bordeaux');
    await submitForm(page, '#q');
    if (!page.url().endsWith('#resultats')) throw new Error(`after a search the page is at ${page.url()}, not at its results`);
    // One Tab from where the search leaves the reader reaches the first result, not the menu.
    await page.keyboard.press('Tab');
    const afterSearch = await page.evaluate(() => {
      const a = document.activeElement;
      return a ? { inResults: !!a.closest('.fr-card__title'), text: (a.textContent || '').trim() } : null;
    });
    if (!afterSearch || !afterSearch.inResults) throw new Error(`after a search, Tab reaches ${JSON.stringify(afterSearch)} instead of the first result`);
    await screenshot(page, 'recherche-resultats');
    pass('search by commune: the page opens at its results, one Tab reaches the first place');
    await checkA11y(page, 'résultats de recherche');

    current = 'sign-in page';
    await visit(page, base, '/connexion');
    await screenshot(page, 'connexion');
    pass('GET /connexion');
    await checkA11y(page, 'connexion');

    current = 'sign-in with e-mail and password';
    await page.fill('#email', ADMIN_EMAIL);
    await page.fill('#mot_de_passe', ADMIN_PASSWORD);
    await submitForm(page, '#mot_de_passe');
    await screenshot(page, 'connexion-totp');
    await expectPath(page, '/connexion/totp');
    pass('password accepted, TOTP asked at /connexion/totp');
    await checkA11y(page, 'code TOTP');

    current = 'TOTP second factor';
    // Do not type a code that expires while the form is being submitted.
    const remaining = otp.period - ((Date.now() / 1000) % otp.period);
    if (remaining < 3) await sleep(remaining * 1000 + 200);
    await page.fill('#code', totp(otp.key, otp));
    await submitForm(page, '#code');
    // The opérateur lands on his work (issue 23); « Mon compte » is one click away.
    await expectPath(page, '/operateur');
    await visit(page, base, '/mon-compte');
    await screenshot(page, 'mon-compte');
    const h1 = (await page.locator('h1').first().textContent({ timeout: 5000 })) || '';
    if (!h1.includes('Mon compte')) throw new Error(`h1 of /mon-compte is ${JSON.stringify(h1.trim())}, expected "Mon compte"`);
    pass('TOTP accepted, signed in at /operateur, the opérateur\'s work');
    await checkA11y(page, 'mon compte');

    for (const [urlPath, label] of PAGES) {
      current = `page ${urlPath}`;
      await visit(page, base, urlPath);
      await screenshot(page, label.replace(/[^a-zà-ÿ]+/gi, '-'));
      pass(`GET ${urlPath}`);
      await checkA11y(page, label);
    }

    // The same pages on a phone: none wider than the screen, captions above their rows.
    current = 'every page at 375 px';
    await page.setViewportSize({ width: 375, height: 812 });
    for (const urlPath of PAGES.map(([p]) => p)) {
      current = `page ${urlPath} at 375 px`;
      await visit(page, base, urlPath);
      await checkPhoneLayout(page, `${urlPath} à 375 px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    current = 'the mobile menu at 375 px';
    await page.setViewportSize({ width: 375, height: 812 });
    await visit(page, base, '/operateur');
    await page.click('#bouton-menu');
    await page.waitForSelector('#menu-principal .fr-header__menu-links .fr-btn', { state: 'visible', timeout: 5000 });
    const cut = await page.evaluate(() => [...document.querySelectorAll('#menu-principal .fr-header__menu-links .fr-btn')]
      .filter((b) => b.scrollWidth > b.clientWidth + 1)
      .map((b) => (b.textContent || '').trim()));
    await screenshot(page, 'menu-mobile-operateur');
    if (cut.length) throw new Error(`texts cut in the mobile menu: ${JSON.stringify(cut)}`);
    pass('at 375 px the menu shows the account and sign-out buttons whole');
    await page.setViewportSize({ width: 1280, height: 900 });

    current = 'the opérateur menu on one line';
    await visit(page, base, '/operateur');
    const menu = await page.evaluate(() => {
      const items = [...document.querySelectorAll('#navigation-principale .fr-nav__item')];
      const tops = new Set(items.map((i) => Math.round(i.getBoundingClientRect().top)));
      const links = [...document.querySelectorAll('#navigation-principale .fr-nav__link')];
      const tallest = Math.max(...links.map((a) => a.getBoundingClientRect().height));
      const one = links.length ? Math.min(...links.map((a) => a.getBoundingClientRect().height)) : 0;
      return { rows: tops.size, wrapped: tallest > one * 1.5, items: items.length, width: window.innerWidth };
    });
    if (menu.width >= 1280 && (menu.rows > 1 || menu.wrapped)) throw new Error(`the opérateur menu wraps at ${menu.width} px: ${JSON.stringify(menu)}`);
    pass(`the opérateur menu holds ${menu.items} entries on one line at ${menu.width} px`);

    current = 'page 404';
    const missing = await page.goto(base + '/page-inexistante', { waitUntil: 'load' });
    if (!missing || missing.status() !== 404) throw new Error(`/page-inexistante answered ${missing && missing.status()}, expected 404`);
    pass('GET /page-inexistante answers 404');
    await checkA11y(page, 'page 404');

    current = 'page mandat non reconnu';
    const unknown = await page.goto(base + '/mandats/verifier/jeton-inconnu', { waitUntil: 'load' });
    if (!unknown || unknown.status() !== 404) throw new Error(`/mandats/verifier answered ${unknown && unknown.status()}, expected 404`);
    const said = await page.locator('h2').allTextContents();
    if (!said.some((t) => t.includes('Attestation non reconnue'))) throw new Error('no "Attestation non reconnue" on the check page');
    pass('GET /mandats/verifier/{unknown} answers 404 "Attestation non reconnue"');
    await checkA11y(page, 'vérification de mandat');

    current = 'keyboard: skip link first';
    await visit(page, base, '/');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => (document.activeElement && document.activeElement.textContent || '').trim());
    if (focused !== 'Contenu') throw new Error(`first Tab focuses ${JSON.stringify(focused)}, expected the "Contenu" skip link`);
    await page.keyboard.press('Enter');
    const hash = await page.evaluate(() => window.location.hash);
    if (hash !== '#contenu') throw new Error(`skip link led to ${JSON.stringify(hash)}`);
    pass('first Tab reaches the skip link, Enter jumps to the content');

    current = 'logout';
    await page.click('form[action="/deconnexion"] button[type=submit]');
    await page.waitForLoadState('load');
    const body = (await page.locator('main').textContent()) || '';
    if (!body.includes('Vous êtes déconnecté')) throw new Error('logout page does not confirm');
    const after = await page.goto(base + '/mon-compte', { waitUntil: 'load' });
    await expectPath(page, '/connexion');
    pass(`logout ends the session (${after && after.status()})`);

    // 4. Aidants Connect, on a second server started with --demo on a fresh
    // database: the FranceConnect simulator, the demonstration online service
    // and the demo aidants (password and TOTP secret on the server's stdout).
    current = 'serve --demo';
    demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'passerelle-e2e-demo-'));
    const demoPort = await freePort();
    const demoBase = `http://127.0.0.1:${demoPort}`;
    const demo = startServer(`sqlite:${demoDir}/passerelle.db`, demoPort, demoDir, { demo: true, logName: 'passerelle-serve-demo.log' });
    await waitHealthy(demoBase, demo);
    const aidantEmail = 'aidant@demo.passerelle.fr';
    const esc = aidantEmail.replace(/[.@]/g, '\\$&');
    const pwMatch = demo.stdout.match(new RegExp(`${esc}\\s+mot de passe : (\\S+)`));
    const secretMatch = demo.stdout.match(new RegExp(`${esc}\\s+secret TOTP : ([A-Z2-7]+)`));
    if (!pwMatch || !secretMatch) throw new Error(`no password or TOTP secret of ${aidantEmail} in the demo banner`);
    const aidantPassword = pwMatch[1];
    const aidantSecret = secretMatch[1];
    // Every password and TOTP secret of the banner: none may reach the log.
    demoSecrets = [...demo.stdout.matchAll(/(?:mot de passe|secret TOTP|graine) : (\S+)/g)].map((m) => m[1]);
    demoLogPath = demo.logPath;
    const aidantOtp = { key: base32Decode(aidantSecret), algorithm: 'sha1', digits: 6, period: 30 };
    pass(`serve --demo answers ${demoBase}/healthz; the demo banner (stdout) gives the aidant's password and TOTP secret`);

    current = 'resource centre (demo articles)';
    const rp = await openPage(browser, cspViolations);
    for (const [urlPath, label] of [
      ['/ressources', 'centre de ressources (articles de démonstration)'],
      ['/ressources?q=deliberation', 'recherche dans les ressources'],
      ['/ressources/deliberation-type-pass-numerique', 'article du centre de ressources'],
    ]) {
      await visit(rp, demoBase, urlPath);
      await screenshot(rp, label.replace(/[^a-zà-ÿ]+/gi, '-'));
      pass(`GET ${urlPath} (demo)`);
      await checkA11y(rp, label);
    }
    await rp.close();

    current = 'aidant sign-in';
    const ap = await openPage(browser, cspViolations);
    await visit(ap, demoBase, '/connexion');
    await ap.fill('#email', aidantEmail);
    await ap.fill('#mot_de_passe', aidantPassword);
    await submitForm(ap, '#mot_de_passe');
    await expectPath(ap, '/connexion/totp');
    let used = await nextCode(aidantOtp);
    await ap.fill('#code', used.code);
    await submitForm(ap, '#code');
    if (new URL(ap.url()).pathname.startsWith('/connexion')) throw new Error(`aidant sign-in stopped at ${ap.url()}`);
    pass(`aidant signed in with password and TOTP (${new URL(ap.url()).pathname})`);

    current = 'mandates list';
    await visit(ap, demoBase, '/aidants-connect/mandats');
    await screenshot(ap, 'ac-mandats');
    pass('GET /aidants-connect/mandats');
    await checkA11y(ap, 'mandats de la structure');

    current = 'new mandate, usager not identified';
    await clickAndWait(ap, ap.locator('a[href="/aidants-connect/mandats/nouveau"]'));
    await expectPath(ap, '/aidants-connect/mandats/nouveau');
    await screenshot(ap, 'ac-nouveau-mandat');
    pass('"Conclure un nouveau mandat": the usager must first identify himself');
    await checkA11y(ap, 'nouveau mandat (usager à identifier)');

    current = 'FranceConnect simulator (aidant side)';
    await clickAndWait(ap, ap.locator('a.fr-connect[href="/franceconnect/connexion"]'));
    await expectPath(ap, '/fc-simulateur/authorize');
    await screenshot(ap, 'ac-fc-simulateur');
    pass('"S\'identifier avec FranceConnect" leads to the FranceConnect simulator');
    await checkA11y(ap, 'simulateur FranceConnect');

    current = 'usager identified';
    await clickAndWait(ap, ap.locator('button[name=identite][value=angela]'));
    await expectPath(ap, '/franceconnect/retour');
    if (!(await text(ap)).includes('Usager identifié')) throw new Error('no "Usager identifié" after the simulator');
    await screenshot(ap, 'ac-usager-identifie');
    pass('identity "angela" chosen: usager identified');
    await checkA11y(ap, 'usager identifié');

    current = 'mandate form';
    await clickAndWait(ap, ap.locator('a[href="/aidants-connect/mandats/nouveau"]'));
    await expectPath(ap, '/aidants-connect/mandats/nouveau');
    for (const d of ['social', 'papiers']) await ap.click(`label[for="demarche-${d}"]`);
    await ap.locator('input[name=duree]').last().evaluate((el) => el.labels[0].click());
    await screenshot(ap, 'ac-mandat-formulaire');
    pass('mandate form: démarches and duration chosen');
    await checkA11y(ap, 'nouveau mandat (démarches et durée)');

    current = 'mandate recap';
    await submitForm(ap, '#demarche-social');
    await expectPath(ap, '/aidants-connect/mandats/recapitulatif');
    const recapUrl = ap.url();
    await screenshot(ap, 'ac-recapitulatif');
    pass('récapitulatif of the mandate');
    await checkA11y(ap, 'récapitulatif du mandat');

    current = 'conclude the mandate';
    await ap.click('label[for=declaration]');
    await submitForm(ap, '#declaration');
    if (new URL(ap.url()).pathname === '/connexion/totp-recent') {
      await screenshot(ap, 'ac-totp-recent');
      await checkA11y(ap, 'code récent (mandat)');
      used = await nextCode(aidantOtp, used.step);
      await ap.fill('#code', used.code);
      await submitForm(ap, '#code');
      await visit(ap, '', recapUrl);
      await ap.click('label[for=declaration]');
      await submitForm(ap, '#declaration');
      pass('a fresh TOTP code was asked before concluding, and accepted');
    }
    const concluded = new URL(ap.url()).pathname.match(/^\/aidants-connect\/mandats\/(\d+)$/);
    if (!concluded) throw new Error(`after "Conclure le mandat" the browser is on ${ap.url()}`);
    const mandateId = concluded[1];
    await screenshot(ap, 'ac-mandat-detail');
    pass(`mandate n° ${mandateId} concluded, its page shown`);
    await checkA11y(ap, 'détail du mandat');

    current = 'attestation PDF';
    const pdf = await ap.request.get(`${demoBase}/aidants-connect/mandats/${mandateId}/attestation.pdf`);
    const pdfBody = await pdf.body();
    if (pdf.status() !== 200 || !(pdf.headers()['content-type'] || '').startsWith('application/pdf')
      || pdfBody.subarray(0, 5).toString('latin1') !== '%PDF-') {
      throw new Error(`attestation: HTTP ${pdf.status()}, ${pdf.headers()['content-type']}, starts with ${JSON.stringify(pdfBody.subarray(0, 8).toString('latin1'))}`);
    }
    pass(`attestation of mandate n° ${mandateId} is a PDF (${pdfBody.length} bytes)`);
    // The check URL is in the QR code; when the PDF also carries it as text or a link, follow it.
    const checkUrl = pdfBody.toString('latin1').match(/https?:\/\/[^\s()<>]*\/mandats\/verifier\/[A-Za-z0-9_-]+/);
    if (checkUrl) {
      current = 'public check of the attestation';
      await visit(ap, '', checkUrl[0]);
      await screenshot(ap, 'ac-mandat-verifie');
      pass(`GET ${new URL(checkUrl[0]).pathname.replace(/[^/]+$/, '{jeton}')} answers 200`);
      await checkA11y(ap, 'vérification d’une attestation valide');
    } else {
      console.log('        (check URL only in the QR code of the PDF: /mandats/verifier/{jeton} not visited)');
    }

    current = 'demonstration online service';
    await visit(ap, demoBase, '/service-demo');
    await screenshot(ap, 'ac-service-demo');
    pass('GET /service-demo');
    await checkA11y(ap, 'service en ligne de démonstration');

    current = 'OIDC authorize: usager choice';
    await clickAndWait(ap, ap.locator('a[href="/service-demo/connexion"]'));
    if (new URL(ap.url()).pathname === '/connexion/totp-recent') {
      used = await nextCode(aidantOtp, used.step);
      await ap.fill('#code', used.code);
      await submitForm(ap, '#code');
    }
    if (!new URL(ap.url()).pathname.startsWith('/oidc/authorize')) throw new Error(`"Se connecter avec Aidants Connect" led to ${ap.url()}`);
    await screenshot(ap, 'ac-oidc-usager');
    pass('"Se connecter avec Aidants Connect": usager choice at /oidc/authorize');
    await checkA11y(ap, 'connexion Aidants Connect : usager');

    current = 'OIDC authorize: usager search';
    await ap.fill('#q', 'Dubois');
    await submitForm(ap, '#q');
    await expectPath(ap, '/oidc/authorize/usagers');
    const found = ap.locator('main ul.fr-mt-3w a', { hasText: /DUBOIS/i });
    if ((await found.count()) === 0) throw new Error('the usager "Dubois" is not found');
    await screenshot(ap, 'ac-oidc-recherche');
    pass('usager search "Dubois" finds the usager');
    await checkA11y(ap, 'connexion Aidants Connect : recherche');

    current = 'OIDC authorize: démarche choice';
    await clickAndWait(ap, found);
    if (!new URL(ap.url()).pathname.startsWith('/oidc/authorize')) throw new Error(`the usager link led to ${ap.url()}`);
    if ((await ap.locator('input[name=autorisation]').count()) === 0) throw new Error('no démarche offered');
    await screenshot(ap, 'ac-oidc-demarche');
    pass('démarche choice for the usager');
    await checkA11y(ap, 'connexion Aidants Connect : démarche');

    current = 'back on the online service';
    await clickAndWait(ap, ap.locator('button[name=action][value=continuer]'));
    await expectPath(ap, '/service-demo/retour');
    const received = await text(ap);
    if (!received.includes('Connecté avec Aidants Connect') || !received.includes('Angela Claire Louise') || !received.includes('DUBOIS')) {
      throw new Error(`the service did not receive the usager's identity: ${received.slice(0, 400)}`);
    }
    await screenshot(ap, 'ac-service-demo-retour');
    pass('back on /service-demo/retour with the usager\'s identity (given names, family name…)');
    await checkA11y(ap, 'service de démonstration connecté');

    // 4b. The aidant logs the accompaniment in the activity log, linked to the Aidants Connect use.
    current = 'activity log: new accompaniment';
    await visit(ap, demoBase, '/activite/nouvelle');
    if (!(await ap.locator('#nature-individuel').isChecked())) throw new Error('individual accompaniment not preselected');
    if ((await ap.inputValue('#duree_minutes')) !== '30') throw new Error('30 minutes not preselected');
    await screenshot(ap, 'activite-nouvelle');
    pass('GET /activite/nouvelle: today, 30 min, individual preselected');
    await checkA11y(ap, 'nouvel accompagnement');
    await ap.locator('label[for="theme-aide_aux_demarches_administratives"]').click();
    if ((await ap.locator('#mandat_utilisation_id option').count()) < 2) throw new Error('the Aidants Connect use is not offered');
    await ap.selectOption('#mandat_utilisation_id', { index: 1 });
    await submitForm(ap, '#jour');
    await expectPath(ap, '/activite');
    if (!(await text(ap)).includes('L’accompagnement est enregistré.')) throw new Error('no confirmation on /activite');
    await screenshot(ap, 'activite');
    pass('POST /activite/nouvelle: recorded, linked to the Aidants Connect use, listed on /activite');
    await checkA11y(ap, 'mon activité');
    current = 'activity log: structure';
    await visit(ap, demoBase, '/activite/structure');
    pass('GET /activite/structure');
    await checkA11y(ap, 'activité de la structure');

    // 4c. The same online service « with FranceConnect », as in production: the
    // simulator federates Aidants Connect; the chain runs over real HTTP
    // (service -> simulator -> Passerelle -> simulator -> service).
    current = 'FranceConnect federation: the simulator offers Aidants Connect';
    await visit(ap, demoBase, '/service-demo');
    await clickAndWait(ap, ap.locator('a[href="/service-demo/fc/connexion"]'));
    await expectPath(ap, '/fc-simulateur/authorize');
    if ((await ap.locator('button[name=identite][value=aidants-connect]').count()) === 0) {
      throw new Error('the FranceConnect simulator does not offer Aidants Connect');
    }
    await screenshot(ap, 'fc-federation-simulateur');
    pass('"S\'identifier avec FranceConnect": the simulator offers Aidants Connect as identity provider');
    await checkA11y(ap, 'simulateur FranceConnect (fédération)');

    current = 'FranceConnect federation: prompt=login asks a new code';
    await clickAndWait(ap, ap.locator('button[name=identite][value=aidants-connect]'));
    await expectPath(ap, '/connexion/totp-recent');
    used = await nextCode(aidantOtp, used.step);
    await ap.fill('#code', used.code);
    await submitForm(ap, '#code');
    if (!new URL(ap.url()).pathname.startsWith('/oidc/authorize')) throw new Error(`after the new code: ${ap.url()}`);
    pass('prompt=login from FranceConnect: a new TOTP code, then the usager choice');

    current = 'FranceConnect federation: usager and démarche';
    await ap.fill('#q', 'Dubois');
    await submitForm(ap, '#q');
    await clickAndWait(ap, ap.locator('main ul.fr-mt-3w a', { hasText: /DUBOIS/i }));
    await clickAndWait(ap, ap.locator('button[name=action][value=continuer]'));
    await expectPath(ap, '/service-demo/fc/retour');
    const federated = await text(ap);
    if (!federated.includes('Connecté avec FranceConnect') || !federated.includes('DUBOIS') || !federated.includes('aidants-connect')) {
      throw new Error(`the service did not receive the identity through FranceConnect: ${federated.slice(0, 400)}`);
    }
    await screenshot(ap, 'fc-federation-retour');
    pass('back on /service-demo/fc/retour: the usager\'s identity through FranceConnect, identity provider aidants-connect');
    await checkA11y(ap, 'service de démonstration connecté par FranceConnect');

    // 4d. A professional logs in with ProConnect (the bundled simulator): the first
    // time, the account's password confirms the link.
    current = 'ProConnect: the button and the simulator';
    const lieuEmail = 'epn-pessac@demo.passerelle.fr';
    const lieuPw = demo.stdout.match(new RegExp(`${lieuEmail.replace(/[.@]/g, '\\$&')}\\s+mot de passe : (\\S+)`));
    if (!lieuPw) throw new Error(`no password of ${lieuEmail} in the demo banner`);
    const pcp = await openPage(browser, cspViolations);
    await visit(pcp, demoBase, '/connexion');
    await clickAndWait(pcp, pcp.locator('a[href="/proconnect/connexion"]'));
    await expectPath(pcp, '/pc-simulateur/authorize');
    await screenshot(pcp, 'proconnect-simulateur');
    pass('"S\'identifier avec ProConnect" leads to the ProConnect simulator');
    await checkA11y(pcp, 'simulateur ProConnect');
    await pcp.fill('#courriel', lieuEmail);
    await submitForm(pcp, '#courriel');
    await expectPath(pcp, '/proconnect/lier');
    await screenshot(pcp, 'proconnect-lier');
    pass('first ProConnect login: the link is to be confirmed');
    await checkA11y(pcp, 'liaison ProConnect');
    current = 'ProConnect: link confirmed by the password';
    await pcp.fill('#mot_de_passe', lieuPw[1]);
    await clickAndWait(pcp, pcp.locator('button[name=action][value=mot_de_passe]'));
    await expectPath(pcp, '/encaisser');
    pass('password confirmed: account linked and signed in (the place\'s counter)');
    await pcp.close();

    // 5. The usager, in his own browser context.
    current = 'usager space: sign-in page';
    const up = await openPage(browser, cspViolations);
    await visit(up, demoBase, '/espace-usager');
    await screenshot(up, 'usager-connexion');
    pass('usager: GET /espace-usager');
    await checkA11y(up, 'espace usager (connexion, démo)');

    current = 'usager space: FranceConnect simulator';
    await clickAndWait(up, up.locator('a.fr-connect[href="/espace-usager/connexion"]'));
    await expectPath(up, '/fc-simulateur/authorize');
    await screenshot(up, 'usager-fc-simulateur');
    pass('usager: "S\'identifier avec FranceConnect" leads to the simulator');
    await checkA11y(up, 'simulateur FranceConnect (usager)');

    current = 'usager space: mandates and uses';
    await clickAndWait(up, up.locator('button[name=identite][value=angela]'));
    await expectPath(up, '/espace-usager');
    const space = await text(up);
    if (!space.includes(`Mandat n° ${mandateId}`)) throw new Error(`mandate n° ${mandateId} is not in the usager's space`);
    const uses = up.locator('table', { has: up.locator('caption', { hasText: 'Chaque fois qu' }) }).locator('tbody tr');
    if ((await uses.count()) === 0) throw new Error('the use by the demonstration service is not in the usager\'s space');
    await screenshot(up, 'usager-espace');
    pass(`usager sees mandate n° ${mandateId} and its use by the demonstration service`);
    await checkA11y(up, 'espace usager (mandats et utilisations)');

    current = 'usager space: revoke a démarche (confirmation)';
    await clickAndWait(up, up.locator(`a[href="/espace-usager/mandats/${mandateId}/revoquer?demarche=social"]`));
    await expectPath(up, `/espace-usager/mandats/${mandateId}/revoquer`);
    await screenshot(up, 'usager-revoquer');
    pass('usager: confirmation page of the revocation of a démarche');
    await checkA11y(up, 'révocation d’une démarche (confirmation)');

    current = 'usager space: revocation receipt';
    await clickAndWait(up, up.locator('form[action$="/revoquer"] button[type=submit]'));
    await expectPath(up, `/espace-usager/mandats/${mandateId}/recu`);
    if (!(await text(up)).includes('Révocation enregistrée')) throw new Error('the receipt does not say "Révocation enregistrée"');
    await screenshot(up, 'usager-recu');
    pass('usager: revocation receipt');
    await checkA11y(up, 'reçu de révocation');

    current = 'usager space: sign out';
    await visit(up, demoBase, '/espace-usager');
    await clickAndWait(up, up.locator('form[action="/espace-usager/deconnexion"] button[type=submit]'));
    await expectPath(up, '/espace-usager/deconnecte');
    await screenshot(up, 'usager-deconnecte');
    await checkA11y(up, 'usager déconnecté');
    const back = await up.goto(`${demoBase}/espace-usager`, { waitUntil: 'load' });
    if (!(await text(up)).includes('Vous vous connectez avec FranceConnect')) throw new Error(`after sign-out /espace-usager answered ${back && back.status()} without the sign-in page`);
    pass('usager signed out: /espace-usager shows the sign-in page again');

    current = 'content security policy';
    if (cspViolations.length > 0) throw new Error(`CSP violations: ${cspViolations.join(' | ')}`);
    pass('no Content-Security-Policy violation reported by the browser');

    current = 'secrets in the server log';
    const serverLog = fs.readFileSync(path.join(RESULTS, 'passerelle-serve.log'), 'utf8');
    if (!serverLog.includes('/c/…')) throw new Error('the request to the cheque page is not in the log: this check would prove nothing');
    for (const secret of [firstCode, firstCode.replace(/-/g, ''), ADMIN_PASSWORD]) {
      if (serverLog.includes(secret)) throw new Error('a cheque code or a password is in the server log');
    }
    pass('no cheque code or password in the server log');

    // The demo banner on stdout shows the demo accounts' passwords and TOTP
    // secrets once, on purpose; stdout is kept in memory here, and the log
    // (stderr) must never contain them.
    current = 'secrets in the demo server log';
    const demoLog = fs.readFileSync(demoLogPath, 'utf8');
    if (!demoLog.includes('/oidc/authorize') || !demoLog.includes('/connexion/totp')) {
      throw new Error('the Aidants Connect requests are not in the demo server log: this check would prove nothing');
    }
    if (demoSecrets.length < 4) throw new Error(`only ${demoSecrets.length} password(s) or TOTP secret(s) read from the demo banner`);
    for (const secret of demoSecrets) {
      if (demoLog.includes(secret)) throw new Error('a demo account\'s password or TOTP secret is in the demo server log');
    }
    pass(`none of the ${demoSecrets.length} passwords and TOTP secrets of the demo banner is in the demo server log`);
    current = null;
  } catch (err) {
    if (page) await screenshot(page, 'echec');
    let detail = err.stack || String(err);
    const tail = serverLogTail();
    if (tail) detail += `\n--- last lines of ${path.relative(ROOT, lastServer().logPath)}\n${tail}`;
    fail(`step "${current}"`, detail);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer();
    for (const dir of [dataDir, demoDir].filter(Boolean)) {
      if (counts().failed === 0) fs.rmSync(dir, { recursive: true, force: true });
      else console.log(`e2e: data directory kept for inspection: ${dir}`);
    }
  }
}

await finish(main);
