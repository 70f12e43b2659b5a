#!/usr/bin/env node
// The first hour of every role, in headless Chromium: one journey per role, each starting from
// the home page and reaching its main goal with no failed submission, at a phone's width
// (375 px) and a desktop's (1280 px), on `passerelle serve --demo` (fresh SQLite database, the
// demonstration accounts whose passwords and TOTP secrets are read from the server's stdout and
// kept in memory only).
//
//   node tests/browser/roles.mjs
//
// On each page reached: axe-core (WCAG 2.0/2.1 A and AA), French formats (dates, times,
// amounts, phone numbers, plurals), where the keyboard focus is after each action, no page
// wider than a phone, no text cut in the phone menu; a screenshot under
// test-results/parcours/. Environment as e2e.mjs (PASSERELLE_BIN, CHROMIUM_BIN).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, RESULTS, base32Decode, checkA11y, checkFocus, checkFrench, checkHeader, checkPhoneLayout, clickAndWait,
  counts, fail, finish, freePort, lastServer, nextCode, openPage, pass, screenshot, serverLogTail,
  setShotsDir, startServer, stopServer, submitForm, viaMenu, waitHealthy,
} from './lib/outils.mjs';
import * as annuaire from './roles/annuaire.mjs';
import * as pass_numerique from './roles/pass-numerique.mjs';
import * as aidants_connect from './roles/aidants-connect.mjs';

const WIDTHS = [375, 1280];

// Where each demo account's sign-in leads: the page of its work (issue 23).
const HOMES = {
  operateur: '/operateur',
  commanditaire: '/commandes',
  prescripteur: '/remettre',
  'epn-pessac': '/encaisser',
  hub: '/hub/territoire',
  referent: '/aidants-connect/referent',
  aidant: '/aidants-connect/mandats',
};

// The demo banner: « <e-mail>  mot de passe : <pw> » and « <e-mail>  secret TOTP : <base32> ».
function accountsOf(stdout) {
  const accounts = {};
  for (const m of stdout.matchAll(/(\S+@demo\.passerelle\.fr)\s+mot de passe : (\S+)/g)) {
    accounts[m[1]] = { email: m[1], password: m[2], otp: null, step: -1 };
  }
  for (const m of stdout.matchAll(/(\S+@demo\.passerelle\.fr)\s+secret TOTP : ([A-Z2-7]+)/g)) {
    if (accounts[m[1]]) accounts[m[1]].otp = { key: base32Decode(m[2]), algorithm: 'sha1', digits: 6, period: 30 };
  }
  const codes = [...stdout.matchAll(/^\s+([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{5})\s+page du chèque/gm)].map((m) => m[1]);
  const secrets = [...stdout.matchAll(/(?:mot de passe|secret TOTP|graine) : (\S+)/g)].map((m) => m[1]);
  return { accounts, codes, secrets };
}

// What every journey uses: the server, the accounts, the checks of a page reached.
function context(browser, base, demo, cspViolations) {
  const ctx = {
    base,
    ...demo,
    viaMenu,
    async page(width) {
      const page = await openPage(browser, cspViolations);
      await page.setViewportSize({ width, height: width < 992 ? 812 : 900 });
      return page;
    },
    // The checks of a page reached: a screenshot, axe-core, French formats, the phone layout,
    // and after an action, the focus.
    async reached(page, label, { action = false } = {}) {
      const width = (page.viewportSize() || { width: 1280 }).width;
      const tag = `${label} à ${width} px`;
      await screenshot(page, `${label}-${width}`.replace(/[^a-z0-9à-ÿ]+/gi, '-'));
      await checkA11y(page, tag);
      await checkFrench(page, tag);
      if (width < 992) await checkPhoneLayout(page, tag);
      else await checkHeader(page, tag);
      if (action) await checkFocus(page, tag);
    },
    // Signs in from the home page's « Se connecter »: password, then the TOTP code, or the
    // activation of the second factor at the first sign-in (its key read from the page).
    async signIn(page, email) {
      const account = ctx.accounts[email];
      if (!account) throw new Error(`no password of ${email} in the demo banner`);
      await page.goto(`${base}/`, { waitUntil: 'load' });
      await clickAndWait(page, page.locator('main a[href="/connexion"]'));
      await page.fill('#email', account.email);
      await page.fill('#mot_de_passe', account.password);
      await submitForm(page, '#mot_de_passe');
      const h1 = ((await page.locator('h1').first().textContent()) || '').trim();
      if (h1.includes('Activer la double authentification')) {
        const key = ((await page.locator('main code').first().textContent()) || '').replace(/\s+/g, '');
        account.otp = { key: base32Decode(key), algorithm: 'sha1', digits: 6, period: 30 };
        await ctx.reached(page, `activation de la double authentification (${email.split('@')[0]})`, { action: true });
        const used = await nextCode(account.otp, account.step);
        account.step = used.step;
        await page.fill('#code', used.code);
        if (await page.locator('#mot_de_passe').count()) await page.fill('#mot_de_passe', account.password);
        await submitForm(page, '#code');
      } else if (new URL(page.url()).pathname === '/connexion/totp') {
        if (!account.otp) throw new Error(`${email}: a TOTP code is asked, but no secret is known`);
        // The code field waits with the focus: the code is typed at once.
        const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
        if (focused !== 'code') throw new Error(`${email}: the TOTP page's focus is on « ${focused} », not the code field`);
        const used = await nextCode(account.otp, account.step);
        account.step = used.step;
        await page.fill('#code', used.code);
        await submitForm(page, '#code');
      }
      if (new URL(page.url()).pathname.startsWith('/connexion')) throw new Error(`${email}: sign-in stopped at ${page.url()}`);
      // The first sign-in ends on « Mon compte » (the second factor activated): one click to the work.
      if (new URL(page.url()).pathname === '/mon-compte') {
        await ctx.reached(page, `double authentification activée (${email.split('@')[0]})`, { action: true });
        await clickAndWait(page, page.locator('main a', { hasText: 'Aller à mon espace de travail' }));
      }
      const home = HOMES[email.split('@')[0]];
      if (home && new URL(page.url()).pathname !== home) throw new Error(`${email}: signed in at ${page.url()}, not at ${home}`);
    },
    // A fresh TOTP code when a sensitive action asks for one (/connexion/totp-recent).
    async freshCode(page, email) {
      if (new URL(page.url()).pathname !== '/connexion/totp-recent') return false;
      const account = ctx.accounts[email];
      const used = await nextCode(account.otp, account.step);
      account.step = used.step;
      await page.fill('#code', used.code);
      await submitForm(page, '#code');
      return true;
    },
  };
  return ctx;
}

const JOURNEYS = [
  ['visiteur', annuaire.visiteur],
  ['titulaire d’un chèque', pass_numerique.titulaire],
  ['équipe d’un lieu', pass_numerique.lieu],
  ['prescripteur', pass_numerique.prescripteur],
  ['commanditaire', pass_numerique.commanditaire],
  ['opérateur', pass_numerique.operateur],
  ['hub territorial', annuaire.hub],
  ['référent Aidants Connect', aidants_connect.referent],
  ['aidant', aidants_connect.aidant],
  ['usager', aidants_connect.usager],
];

async function main() {
  setShotsDir('parcours');
  if (!fs.existsSync(BIN)) throw new Error(`passerelle binary not found: ${BIN} (set PASSERELLE_BIN)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passerelle-parcours-'));
  let browser = null;
  let current = 'serve --demo';
  const cspViolations = [];
  let secrets = [];
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const srv = startServer(`sqlite:${dir}/passerelle.db`, port, dir, { demo: true, logName: 'passerelle-serve-parcours.log' });
    await waitHealthy(base, srv);
    const demo = accountsOf(srv.stdout);
    secrets = demo.secrets;
    if (Object.keys(demo.accounts).length < 9 || demo.codes.length < 3) {
      throw new Error(`the demo banner gives ${Object.keys(demo.accounts).length} accounts and ${demo.codes.length} cheque codes`);
    }
    pass(`serve --demo answers ${base}/healthz; ${Object.keys(demo.accounts).length} accounts and ${demo.codes.length} cheque codes in its banner`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const ctx = context(browser, base, demo, cspViolations);
    // The journeys share what they leave behind (the order a funder places is the one the
    // opérateur issues), width by width.
    for (const width of WIDTHS) {
      const shared = {};
      for (const [role, journey] of JOURNEYS) {
        current = `${role} à ${width} px`;
        const page = await ctx.page(width);
        try {
          const goal = await journey(ctx, page, { width, shared, run: WIDTHS.indexOf(width) });
          pass(`journey of the ${role} at ${width} px: ${goal}`);
        } catch (err) {
          await screenshot(page, `echec-${role}-${width}`.replace(/[^a-z0-9à-ÿ]+/gi, '-'));
          fail(`journey of the ${role} at ${width} px`, `${err.stack || err}\n--- last lines of the server log\n${serverLogTail(20)}`);
        } finally {
          await page.context().close();
        }
      }
    }
    current = 'content security policy';
    if (cspViolations.length > 0) throw new Error(`CSP violations: ${cspViolations.join(' | ')}`);
    pass('no Content-Security-Policy violation reported by the browser');
    current = 'secrets in the server log';
    const log = fs.readFileSync(lastServer().logPath, 'utf8');
    if (!log.includes('/connexion/totp')) throw new Error('the sign-ins are not in the server log: this check would prove nothing');
    for (const s of [...secrets, ...demo.codes, ...demo.codes.map((c) => c.replace(/-/g, ''))]) {
      if (log.includes(s)) throw new Error('a password, a TOTP secret or a cheque code of the demo banner is in the server log');
    }
    pass(`none of the ${secrets.length} passwords and TOTP secrets, nor a cheque code, is in the server log`);
  } catch (err) {
    fail(`step "${current}"`, `${err.stack || err}\n${serverLogTail(30)}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer();
    if (counts().failed === 0) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`parcours: data directory kept for inspection: ${dir}`);
    console.log(`screenshots of the journeys: ${path.relative(process.cwd(), path.join(RESULTS, 'parcours'))}/`);
  }
}

await finish(main, 15 * 60_000);
