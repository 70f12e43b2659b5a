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
// factor computed here from the otpauth:// secret, landing on /mon-compte.
// Screenshots and the server log go to test-results/. Exits 1 on any failed
// step or accessibility violation.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BIN = path.resolve(ROOT, process.env.PASSERELLE_BIN || 'target/debug/passerelle');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const RESULTS = path.join(ROOT, 'test-results');
const ADMIN_EMAIL = 'admin@example.fr';
const ADMIN_PASSWORD = 'Un-mot-de-passe-solide-42!';
const AXE_OPTIONS = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  resultTypes: ['violations'],
};
const HEALTH_TIMEOUT_MS = 60_000;
const OVERALL_TIMEOUT_MS = 5 * 60_000;
const NAV_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- TOTP (RFC 6238)

function base32Decode(input) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = input.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)} in TOTP secret`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totp(key, { time = Date.now() / 1000, period = 30, digits = 6, algorithm = 'sha1' } = {}) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / period)));
  const mac = createHmac(algorithm, key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

// RFC 6238 appendix B test vectors (SHA-1), so a wrong code is never our fault.
function selfTestTotp() {
  const key = Buffer.from('12345678901234567890', 'ascii');
  const vectors = [[59, '94287082'], [1111111109, '07081804'], [20000000000, '65353130']];
  for (const [time, expected] of vectors) {
    const got = totp(key, { time, digits: 8 });
    if (got !== expected) throw new Error(`TOTP self-test failed at T=${time}: ${got} != ${expected}`);
  }
  if (base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ').toString('ascii') !== '12345678901234567890') {
    throw new Error('base32 self-test failed');
  }
}

function parseOtpauth(text) {
  const match = text.match(/otpauth:\/\/totp\/[^\s"'<>]+/);
  if (!match) throw new Error(`no otpauth://totp/ URI in the output of "admin create":\n${text}`);
  const uri = new URL(match[0]);
  const secret = uri.searchParams.get('secret');
  if (!secret) throw new Error(`otpauth URI has no secret parameter: ${match[0]}`);
  const algorithm = (uri.searchParams.get('algorithm') || 'SHA1').toLowerCase().replace('-', '');
  const digits = Number(uri.searchParams.get('digits') || 6);
  const period = Number(uri.searchParams.get('period') || 30);
  return { uri: match[0], key: base32Decode(secret), algorithm, digits, period };
}

// ---------------------------------------------------------------- processes

function run(cmd, args, { env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${signal || code}\n--- stdout\n${stdout}--- stderr\n${stderr}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server = null; // { child, exited: Promise, logPath }

function startServer(db, port, dataDir) {
  const logPath = path.join(RESULTS, 'passerelle-serve.log');
  const log = fs.openSync(logPath, 'w');
  const child = spawn(BIN, ['serve', '--database-url', db, '--listen', `127.0.0.1:${port}`], {
    env: {
      ...process.env,
      PASSERELLE_DATA_DIR: dataDir,
      PASSERELLE_BASE_URL: `http://127.0.0.1:${port}`,
      // Requests are logged (tower_http at debug): the log is checked for secrets at the end.
      RUST_LOG: 'info,tower_http=debug',
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(signal || code));
    child.on('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  server = { child, exited, logPath, running: true };
  exited.then(() => { server.running = false; });
  return server;
}

async function stopServer() {
  if (!server || !server.running) return;
  server.child.kill('SIGTERM');
  const done = await Promise.race([server.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

// Last resort: never leave the server behind, whatever happens.
process.on('exit', () => {
  if (server && server.running) {
    try { server.child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`e2e: received ${sig}, stopping`);
    process.exit(1);
  });
}

function serverLogTail(lines = 60) {
  if (!server) return '';
  try {
    const text = fs.readFileSync(server.logPath, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitHealthy(base) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!server.running) {
      throw new Error(`passerelle serve exited (${await server.exited}) before /healthz answered`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await sleep(200);
  }
  throw new Error(`${base}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s (last: ${last})`);
}

// ---------------------------------------------------------------- checks

let passed = 0;
let failed = 0;
const problems = [];

function pass(name) {
  passed += 1;
  console.log(`ok      ${name}`);
}

function fail(name, detail) {
  failed += 1;
  problems.push(name);
  console.log(`FAILED  ${name}`);
  if (detail) console.log(detail.replace(/^/gm, '        '));
}

let shotCounter = 0;
async function screenshot(page, name) {
  shotCounter += 1;
  const file = path.join(RESULTS, `${String(shotCounter).padStart(2, '0')}-${name}.png`);
  try {
    // caret: 'initial' — Playwright's default hides the caret with an inline style, which our CSP blocks.
    await page.screenshot({ path: file, fullPage: true, caret: 'initial' });
  } catch (err) {
    console.log(`        (screenshot ${file} failed: ${err.message})`);
  }
}

async function checkA11y(page, label) {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate((options) => window.axe.run(document, options), AXE_OPTIONS);
  const name = `accessibility: ${label} (${new URL(page.url()).pathname})`;
  if (results.violations.length === 0) {
    pass(name);
    return;
  }
  const lines = [];
  for (const v of results.violations) {
    lines.push(`[${v.impact}] ${v.id}: ${v.help}`);
    lines.push(`  ${v.helpUrl}`);
    for (const node of v.nodes) {
      lines.push(`  - ${node.target.join(' ')}`);
      if (node.failureSummary) {
        lines.push(...node.failureSummary.split('\n').map((l) => `      ${l}`));
      }
    }
  }
  fail(`${name}: ${results.violations.length} violation(s)`, lines.join('\n'));
}

async function expectPath(page, expected) {
  const actual = new URL(page.url()).pathname;
  if (actual !== expected) {
    const title = await page.title().catch(() => '?');
    const h1 = await page.locator('h1').first().textContent({ timeout: 1000 }).catch(() => null);
    throw new Error(`expected to be on ${expected}, but the browser is on ${page.url()} `
      + `(title ${JSON.stringify(title)}, h1 ${JSON.stringify(h1 && h1.trim())})`);
  }
}

async function submitForm(page, fieldSelector) {
  const button = page.locator('form', { has: page.locator(fieldSelector) }).locator('button[type=submit]');
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: NAV_TIMEOUT_MS }),
    button.first().click(),
  ]);
}

async function visit(page, base, urlPath) {
  const res = await page.goto(base + urlPath, { waitUntil: 'load' });
  if (!res) throw new Error(`no response for ${urlPath}`);
  if (res.status() !== 200) throw new Error(`GET ${urlPath} answered HTTP ${res.status()}`);
}

// ---------------------------------------------------------------- main

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
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(NAV_TIMEOUT_MS);
    // Report CSP violations with the element concerned (init scripts are not subject to the CSP).
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        const el = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 160) : String(e.target);
        console.error(`Content Security Policy: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} on ${el} (sample: ${e.sample || '-'})`);
      });
    });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`        (page error on ${page.url()}: ${err.message})`));
    page.on('response', (res) => {
      if (res.status() >= 400) console.log(`        (HTTP ${res.status()} for ${res.url()})`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') console.log(`        (console error on ${page.url()}: ${msg.text()})`);
      if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`${page.url()}: ${msg.text()}`);
    });

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
    await screenshot(page, 'mon-compte');
    await expectPath(page, '/mon-compte');
    const h1 = (await page.locator('h1').first().textContent({ timeout: 5000 })) || '';
    if (!h1.includes('Mon compte')) throw new Error(`h1 of /mon-compte is ${JSON.stringify(h1.trim())}, expected "Mon compte"`);
    pass('TOTP accepted, signed in at /mon-compte');
    await checkA11y(page, 'mon compte');

    for (const [urlPath, label] of [
      ['/lieux?q=Bordeaux&ouvert_maintenant=', 'recherche de lieux'],
      ['/lieux/mednum-3', 'page d’un lieu'],
      ['/lieux/mednum-3/modifier', 'modification d’un lieu'],
      ['/operateur/lieux/import', 'import de lieux'],
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
      ['/operateur/habilitations?etat=toutes', 'habilitations Aidants Connect'],
      ['/operateur/aidants', 'formation des aidants'],
      ['/aidants-connect/habilitation', 'demande d’habilitation'],
      ['/connexion/lien', 'lien de connexion'],
      ['/connexion/totp-recent?suivant=/mon-compte', 'code récent'],
      ['/accessibilite', 'déclaration d’accessibilité'],
      ['/aider-un-proche', 'aider un proche'],
      ['/espace-usager', 'espace usager (connexion)'],
    ]) {
      current = `page ${urlPath}`;
      await visit(page, base, urlPath);
      await screenshot(page, label.replace(/[^a-zà-ÿ]+/gi, '-'));
      pass(`GET ${urlPath}`);
      await checkA11y(page, label);
    }

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
    current = null;
  } catch (err) {
    if (page) await screenshot(page, 'echec');
    let detail = err.stack || String(err);
    const tail = serverLogTail();
    if (tail) detail += `\n--- last lines of ${path.relative(ROOT, server.logPath)}\n${tail}`;
    fail(`step "${current}"`, detail);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer();
    if (failed === 0) fs.rmSync(dataDir, { recursive: true, force: true });
    else console.log(`e2e: data directory kept for inspection: ${dataDir}`);
  }
}

const watchdog = setTimeout(() => {
  fail(`overall timeout (${OVERALL_TIMEOUT_MS / 1000} s)`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

try {
  await main();
} catch (err) {
  fail('unexpected error', err.stack || String(err));
}
clearTimeout(watchdog);
if (failed > 0) console.log(`e2e: failures: ${problems.join('; ')}`);
console.log(`screenshots and server log: ${path.relative(ROOT, RESULTS) || '.'}/`);
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
