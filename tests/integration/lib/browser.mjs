// Headless Chromium for the page tests (playwright-core from tests/node/, the
// system's /usr/bin/chromium or $PD_CHROMIUM).
//
//   launchBrowser()              a Chromium browser
//   openPage(browser, who)       a new context (1280x800) and page; records the
//                                page's console errors as page.pdLog
//   signIn(page, base, user)     signs in through the page's form and waits for the app
//   screenshot(page, name)       saves NAME.png under $PD_TMP/screenshots and
//                                tests/out/screenshots/ (numbered in order taken)
//   resetScreenshots()           empties tests/out/screenshots/ (*.png)
//   pageLog(page)                the recorded console lines, for a failure message
//   bannerText(page)             the last errors the page's banner showed
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, copyFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SRC = process.env.PD_SRC || path.resolve(HERE, '..', '..', '..');
const requireNode = createRequire(path.join(SRC, 'tests', 'node', 'package.json'));

export const CHROMIUM = process.env.PD_CHROMIUM || '/usr/bin/chromium';
export const VIEWPORT = { width: 1280, height: 800 };

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install chromium (or set PD_CHROMIUM)`);
  }
  const { chromium } = requireNode('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

export async function openPage(browser, who) {
  const context = await browser.newContext({ viewport: VIEWPORT, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.pdWho = who;
  page.pdLog = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') page.pdLog.push(`${who} console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.pdLog.push(`${who} page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const u = r.url();
    // long polls cut by a page close or a transport upgrade are expected
    if (!u.includes('/socket.io/')) page.pdLog.push(`${who} request failed: ${r.method()} ${u} ${r.failure()?.errorText}`);
  });
  return { context, page };
}

export async function signIn(page, base, user, timeout = 15_000) {
  await page.goto(base + '/', { waitUntil: 'domcontentloaded', timeout });
  await page.locator('#login-email').waitFor({ state: 'visible', timeout });
  await page.fill('#login-email', user.email);
  await page.fill('#login-password', user.password);
  await page.click('#login-submit');
  await Promise.race([
    page.locator('#app').waitFor({ state: 'visible', timeout }),
    page.locator('#login-error').waitFor({ state: 'visible', timeout }).then(async () => {
      throw new Error(`sign-in refused: ${await page.textContent('#login-error')}`);
    }),
  ]);
  await page.waitForFunction(() => document.getElementById('me-name').textContent.trim() !== '', null, { timeout });
}

// Removes the screenshots of an earlier run from tests/out/screenshots/.
export function resetScreenshots() {
  const dir = path.join(SRC, 'tests', 'out', 'screenshots');
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f.endsWith('.png')) rmSync(path.join(dir, f), { force: true });
}

let shotNo = 0;
const outDirs = () => {
  const dirs = [path.join(SRC, 'tests', 'out', 'screenshots')];
  if (process.env.PD_TMP) dirs.unshift(path.join(process.env.PD_TMP, 'screenshots'));
  return dirs;
};

export async function screenshot(page, name) {
  if (!page || page.isClosed()) return null;
  shotNo += 1;
  const file = `${String(shotNo).padStart(2, '0')}-${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`;
  const [first, ...rest] = outDirs();
  mkdirSync(first, { recursive: true });
  const target = path.join(first, file);
  await page.screenshot({ path: target, timeout: 10_000 });
  for (const d of rest) {
    mkdirSync(d, { recursive: true });
    copyFileSync(target, path.join(d, file));
  }
  return target;
}

export function pageLog(...pages) {
  return pages.filter(Boolean).flatMap((p) => p.pdLog || []).slice(-40).join('\n');
}

// The last errors the page's banner showed.
export async function bannerText(page) {
  if (!page || page.isClosed()) return '';
  return page.evaluate(() => (window.pushdeskErrors || []).slice(-5).join(' | ')).catch(() => '');
}
