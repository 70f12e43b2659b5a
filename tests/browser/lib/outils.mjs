// Shared tools of the browser tests (e2e.mjs and roles.mjs): the passerelle
// processes, TOTP codes, page helpers, checks (axe-core, French formats, focus)
// and the screenshots under test-results/.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(import.meta.url);
export const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const BIN = path.resolve(ROOT, process.env.PASSERELLE_BIN || 'target/debug/passerelle');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const RESULTS = path.join(ROOT, 'test-results');
export const ADMIN_EMAIL = 'admin@example.fr';
export const ADMIN_PASSWORD = 'Un-mot-de-passe-solide-42!';
export const AXE_OPTIONS = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  resultTypes: ['violations'],
};
export const HEALTH_TIMEOUT_MS = 60_000;
export const OVERALL_TIMEOUT_MS = 8 * 60_000;
export const NAV_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- TOTP (RFC 6238)

export function base32Decode(input) {
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

export function totp(key, { time = Date.now() / 1000, period = 30, digits = 6, algorithm = 'sha1' } = {}) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / period)));
  const mac = createHmac(algorithm, key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

// RFC 6238 appendix B test vectors (SHA-1), so a wrong code is never our fault.
export function selfTestTotp() {
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

export function parseOtpauth(text) {
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

export function run(cmd, args, { env, timeoutMs = 120_000 } = {}) {
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

export function freePort() {
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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The servers started, the last one first in the log excerpts: { child, exited, logPath, running, stdout }.
export const servers = [];
let server = null; // the last one started
export const lastServer = () => server;

// `demo`: `serve --demo`. Its stdout (the one-time banner with the demo accounts'
// passwords and TOTP secrets, meant for the person starting the demo) is read
// here into memory and never written to disk; its stderr (the tracing log,
// where requests are logged) goes to `logName`, checked for secrets at the end.
export function startServer(db, port, dataDir, { demo = false, logName = 'passerelle-serve.log' } = {}) {
  const logPath = path.join(RESULTS, logName);
  const log = fs.openSync(logPath, 'w');
  const args = ['serve', '--database-url', db, '--listen', `127.0.0.1:${port}`];
  if (demo) args.push('--demo');
  const child = spawn(BIN, args, {
    env: {
      ...process.env,
      PASSERELLE_DATA_DIR: dataDir,
      PASSERELLE_BASE_URL: `http://127.0.0.1:${port}`,
      // Requests are logged (tower_http at debug): the log is checked for secrets at the end.
      RUST_LOG: 'info,tower_http=debug',
    },
    stdio: ['ignore', demo ? 'pipe' : log, log],
  });
  fs.closeSync(log);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(signal || code));
    child.on('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  const srv = { child, exited, logPath, running: true, stdout: '' };
  if (demo) child.stdout.on('data', (d) => { srv.stdout += d; });
  exited.then(() => { srv.running = false; });
  servers.push(srv);
  server = srv;
  return srv;
}

export async function stopOne(srv) {
  if (!srv.running) return;
  srv.child.kill('SIGTERM');
  const done = await Promise.race([srv.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    srv.child.kill('SIGKILL');
    await srv.exited;
  }
}

export async function stopServer() {
  await Promise.all(servers.map(stopOne));
}

// Last resort: never leave the server behind, whatever happens.
process.on('exit', () => {
  for (const srv of servers) {
    if (srv.running) {
      try { srv.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`e2e: received ${sig}, stopping`);
    process.exit(1);
  });
}

export function serverLogTail(lines = 60) {
  if (!server) return '';
  try {
    const text = fs.readFileSync(server.logPath, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function waitHealthy(base, srv = server) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!srv.running) {
      throw new Error(`passerelle serve exited (${await srv.exited}) before /healthz answered`);
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
export const problems = [];
export const counts = () => ({ passed, failed });

export function pass(name) {
  passed += 1;
  console.log(`ok      ${name}`);
}

export function fail(name, detail) {
  failed += 1;
  problems.push(name);
  console.log(`FAILED  ${name}`);
  if (detail) console.log(detail.replace(/^/gm, '        '));
}

let shotCounter = 0;
let shotsDir = RESULTS;
// Screenshots of this run go to `test-results/<sub>/` (the role journeys keep theirs apart).
export function setShotsDir(sub) {
  shotsDir = path.join(RESULTS, sub);
  fs.rmSync(shotsDir, { recursive: true, force: true });
  fs.mkdirSync(shotsDir, { recursive: true });
}
export async function screenshot(page, name) {
  shotCounter += 1;
  const file = path.join(shotsDir, `${String(shotCounter).padStart(2, '0')}-${name}.png`);
  try {
    // caret: 'initial' — Playwright's default hides the caret with an inline style, which our CSP blocks.
    await page.screenshot({ path: file, fullPage: true, caret: 'initial' });
  } catch (err) {
    console.log(`        (screenshot ${file} failed: ${err.message})`);
  }
}

export async function checkA11y(page, label) {
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

export async function expectPath(page, expected) {
  const actual = new URL(page.url()).pathname;
  if (actual !== expected) {
    const title = await page.title().catch(() => '?');
    const h1 = await page.locator('h1').first().textContent({ timeout: 1000 }).catch(() => null);
    throw new Error(`expected to be on ${expected}, but the browser is on ${page.url()} `
      + `(title ${JSON.stringify(title)}, h1 ${JSON.stringify(h1 && h1.trim())})`);
  }
}

export async function submitForm(page, fieldSelector) {
  const button = page.locator('form', { has: page.locator(fieldSelector) }).locator('button[type=submit]');
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: NAV_TIMEOUT_MS }),
    button.first().click(),
  ]);
}

export async function visit(page, base, urlPath) {
  const res = await page.goto(base + urlPath, { waitUntil: 'load' });
  if (!res) throw new Error(`no response for ${urlPath}`);
  if (res.status() !== 200) throw new Error(`GET ${urlPath} answered HTTP ${res.status()}`);
}

// A new browser context (its own cookies) and a page in it, with the CSP
// violations, console errors and HTTP errors reported.
export async function openPage(browser, cspViolations) {
  const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(NAV_TIMEOUT_MS);
  // Report CSP violations with the element concerned (init scripts are not subject to the CSP).
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const el = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 160) : String(e.target);
      console.error(`Content Security Policy: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} on ${el} (sample: ${e.sample || '-'})`);
    });
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`        (page error on ${page.url()}: ${err.message})`));
  page.on('response', (res) => {
    if (res.status() >= 400) console.log(`        (HTTP ${res.status()} for ${res.url()})`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`        (console error on ${page.url()}: ${msg.text()})`);
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`${page.url()}: ${msg.text()}`);
  });
  return page;
}

// Clicks what `locator` designates and waits for the page it leads to.
export async function clickAndWait(page, locator) {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: NAV_TIMEOUT_MS }),
    locator.first().click(),
  ]);
}

// A TOTP code of a time step later than `after` (codes are single-use), and its step.
export async function nextCode(otp, after = -1) {
  for (;;) {
    const now = Date.now() / 1000;
    const step = Math.floor(now / otp.period);
    const remaining = otp.period - (now % otp.period);
    if (step > after && remaining >= 3) return { code: totp(otp.key, { ...otp, time: now }), step };
    await sleep(remaining * 1000 + 200);
  }
}

export async function text(page, selector = 'main') {
  return ((await page.locator(selector).first().textContent({ timeout: 5000 })) || '').replace(/\s+/g, ' ');
}


// Runs `main` under a watchdog, prints the summary and exits 1 on any failure.
export async function finish(main, timeoutMs = OVERALL_TIMEOUT_MS) {
  const watchdog = setTimeout(() => {
    fail(`overall timeout (${timeoutMs / 1000} s)`);
    console.log(`e2e: ${passed} passed, ${failed} failed`);
    process.exit(1);
  }, timeoutMs);
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
}

// ---------------------------------------------------------------- checks of a first-time user's page

// The text of `main` as a person reads it: without code samples (keys, API examples), which
// are meant to be copied as they are.
async function readableText(page) {
  return page.evaluate(() => {
    const main = document.querySelector('main');
    if (!main) return '';
    const copy = main.cloneNode(true);
    // The mandate's legal text is versioned and hashed: it is shown as it was signed.
    for (const el of copy.querySelectorAll('code, pre, script, style, template, [hidden], [data-texte-officiel]')) el.remove();
    return (copy.textContent || '').replace(/\s+/g, ' ');
  });
}

// French formats: no ISO date or time, times as « 14 h 05 », grouped phone numbers, amounts
// as « 10,50 € », no « (s) » plural, no technical word left in a sentence.
const FORMAT_FAULTS = [
  [/\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?\b/, 'une date au format ISO (AAAA-MM-JJ)'],
  [/\b\d{1,2}:\d{2}(?::\d{2})?\b/, 'une heure avec deux-points (attendu « 14 h 05 »)'],
  [/\b\d{1,2}h\d{2}\b/, 'une heure sans espaces (attendu « 14 h 05 »)'],
  [/\+33\d{9}\b|(?<![\d ])0[1-9]\d{8}\b/, 'un numéro de téléphone non groupé (attendu « 05 57 02 00 00 »)'],
  [/\d\.\d{2}\s?€|\d\s?EUR\b/, 'un montant à l’anglaise (attendu « 10,50 € »)'],
  [/\p{L}\((?:s|e|es|x)\)/u, 'un pluriel « (s) »'],
  [/\b(?:undefined|null|NaN|Error|Some\(|None\b)/, 'un mot technique'],
  [/\b(?:UTC|GMT)\b/, 'une heure UTC'],
];

export async function checkFrench(page, label) {
  const t = await readableText(page);
  const found = [];
  for (const [re, what] of FORMAT_FAULTS) {
    const m = t.match(re);
    if (m) found.push(`${what} : « …${t.slice(Math.max(0, m.index - 40), m.index + m[0].length + 20).trim()}… »`);
  }
  const name = `French formats: ${label} (${new URL(page.url()).pathname})`;
  if (found.length === 0) pass(name);
  else fail(name, found.join('\n'));
}

// After an action (a form sent, a page reached from a link), where the keyboard is: on the
// message that reports the outcome when the page has one, otherwise at the page's start or in
// its content — never left in the header, the menu or the footer.
export async function checkFocus(page, label) {
  const f = await page.evaluate(() => {
    const a = document.activeElement;
    const alert = document.querySelector('main .fr-alert[role=alert], main .fr-alert[role=status]');
    return {
      tag: a ? a.tagName.toLowerCase() : null,
      text: a ? (a.textContent || '').trim().slice(0, 80) : '',
      onAlert: !!(alert && a && alert.contains(a)),
      hasAlert: !!alert,
      inMain: !!(a && a.closest('main')),
      atStart: !a || a === document.body || a === document.documentElement,
    };
  });
  const name = `focus after the action: ${label}`;
  if (f.hasAlert ? f.onAlert : (f.atStart || f.inMain)) pass(name);
  else fail(name, `the focus is on <${f.tag}> « ${f.text} »${f.hasAlert ? ', not on the message that reports the outcome' : ''}`);
}

// At a phone's width nothing is wider than the screen, and the menu's texts are whole.
export async function checkPhoneLayout(page, label) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  // A table's caption stays on the screen, above its rows (not laid under them).
  const captions = await page.evaluate(() => [...document.querySelectorAll('main table caption')]
    .filter((c) => !c.closest('.fr-table--no-caption'))
    .filter((c) => {
      const r = c.getBoundingClientRect();
      if (r.width < 1 || r.height < 1 || r.left < -1 || r.right > window.innerWidth + 1) return true;
      // Above the rows, not laid over them (and hidden by them).
      const row = c.closest('table').querySelector('tr');
      if (row && r.bottom > row.getBoundingClientRect().top + 1) return true;
      return false;
    })
    .map((c) => (c.textContent || '').trim()));
  // Every action of a list (a link or button in a table cell) is on the screen as the page
  // opens, not past the right edge of a table that scrolls sideways.
  const hidden = await page.evaluate(() => [...document.querySelectorAll('main table td a, main table td button')]
    .filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1);
    })
    .map((e) => (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60)));
  // A chart's labels stay readable: not a wide drawing scaled down to a phone (7 px texts).
  const tiny = await page.evaluate(() => [...document.querySelectorAll('main svg.passerelle-graphique text')]
    .filter((t) => {
      const r = t.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.height < 10;
    })
    .map((t) => (t.textContent || '').trim()).slice(0, 5));
  const name = `phone layout: ${label} (${new URL(page.url()).pathname})`;
  if (tiny.length) fail(name, `chart texts under 10 px tall: ${JSON.stringify(tiny)}`);
  else if (overflow > 1) fail(name, `the page is ${overflow} px wider than the screen`);
  else if (captions.length) fail(name, `table captions off the screen: ${JSON.stringify(captions)}`);
  else if (hidden.length) fail(name, `actions past the screen's edge in a table: ${JSON.stringify(hidden)}`);
  else pass(name);
}

// The header's texts are whole: the « République française » block, the service's name, the
// account's and the structure's buttons (a long structure name once squeezed the block).
export async function checkHeader(page, label) {
  const cut = await page.evaluate(() => [...document.querySelectorAll(
    '.fr-header__brand-top, .fr-header__service-title, .fr-header__tools-links .fr-btn')]
    .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${e.className.split(' ')[0]} « ${(e.textContent || '').trim().replace(/\s+/g, ' ')} »`));
  const name = `header whole: ${label} (${new URL(page.url()).pathname})`;
  if (cut.length) fail(name, `cut: ${cut.join(' ; ')}`);
  else pass(name);
}

// Follows a link of the main menu; on a phone, through the « Menu » button first. Checks that
// the menu's texts are whole there.
export async function viaMenu(page, href) {
  const narrow = (page.viewportSize() || { width: 1280 }).width < 992;
  if (narrow) {
    await page.click('#bouton-menu');
    await page.waitForSelector('#menu-principal .fr-nav__list', { state: 'visible', timeout: 5000 });
    const cut = await page.evaluate(() => [...document.querySelectorAll('#menu-principal .fr-btn, #menu-principal .fr-nav__link')]
      .filter((b) => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1)
      .map((b) => (b.textContent || '').trim()));
    if (cut.length) throw new Error(`texts cut in the phone menu: ${JSON.stringify(cut)}`);
  }
  await clickAndWait(page, page.locator(`#navigation-principale a.fr-nav__link[href="${href}"]`));
}
