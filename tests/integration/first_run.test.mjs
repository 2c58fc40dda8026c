// What a newcomer does first (issue 13): a fresh clone of the source tree,
// `scripts/stack up` alone, the page in headless Chromium, signed in with the
// logins `up` printed; the customer's new ticket shows on the agent's list
// without a reload, and a reply goes each way. Nothing from the test stack of
// tests/run is used: the clone has its own state folder and ports.
// tests/run: long (a clone and a build of its own).
//
// The clone is `git clone` of PD_SRC (its committed HEAD); a source tree
// that is no git checkout (the tarball of `make distcheck`) is copied.
// `up` builds the clone as a newcomer's would (about 30 s on an idle
// two-core machine); PD_FIRST_RUN_REUSE=1 reuses PD_BUILD's binaries instead,
// through `up`'s documented PUSHDESK_NO_BUILD=1 + PUSHDESK_BUILD.
// `scripts/stack down` runs and the state goes whatever happens (it stops
// by pidfile what `up` started, also after an `up` that failed half way).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, cpSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { SRC, launchBrowser, openPage, signIn, screenshot, pageLog, bannerText } from './lib/browser.mjs';
import { freePort } from './lib/broker.mjs';

const W = 20_000; // one wait for something to show on a page
const q = (s) => JSON.stringify(s);
const root = mkdtempSync(path.join(process.env.PD_TMP || os.tmpdir(), 'first-run-'));
// postgres (another user when run as root) must pass through to the state folder
chmodSync(root, 0o755);
const clone = path.join(root, 'pushdesk');
// a newcomer's shell: none of tests/run's PD_* (its stack's ports) or PUSHDESK_*
const stackEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PD|PUSHDESK)_/.test(k)));
Object.assign(stackEnv, { PUSHDESK_STATE: path.join(root, 'state'), PUSHDESK_NO_INSTALL: '1' });
let upOut = '';
let base;
let browser, A, C;

function stack(cmd, timeout) {
  const t0 = Date.now();
  const r = spawnSync(path.join(clone, 'scripts', 'stack'), [cmd], {
    cwd: clone, env: stackEnv, encoding: 'utf8', timeout, killSignal: 'SIGKILL',
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  return { ok: r.status === 0, out: `${r.stdout || ''}${r.stderr || ''}${r.error ? `\n${r.error.message}` : ''}`, secs };
}

before(async () => {
  const isGit = spawnSync('git', ['-C', SRC, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' });
  if (isGit.status === 0 && existsSync(path.join(SRC, '.git'))) {
    const r = spawnSync('git', ['clone', '-q', SRC, clone], { encoding: 'utf8' });
    assert.equal(r.status, 0, `git clone: ${r.stderr}`);
  } else {
    // the tarball's tree (make distcheck): what a reader of the release unpacks
    cpSync(SRC, clone, {
      recursive: true,
      filter: (p) => !/\/(node_modules|tests\/out|var|_build|_inst|build[^/]*)$/.test(p),
    });
    // distcheck's source tree is read-only, a newcomer's unpacked one is not
    const r = spawnSync('chmod', ['-R', 'u+w', clone], { encoding: 'utf8' });
    assert.equal(r.status, 0, `chmod -R u+w: ${r.stderr}`);
  }
  const ports = [];
  // reserved as tests/lib/stack.sh's pd_free_port does: the stacks of other
  // runs never take them (lib/broker.mjs)
  while (ports.length < 5) ports.push(await freePort());
  const [http, pg, redis, broker, admin] = ports;
  Object.assign(stackEnv, {
    PUSHDESK_HTTP_PORT: String(http), PUSHDESK_PG_PORT: String(pg), PUSHDESK_REDIS_PORT: String(redis),
    PUSHDESK_BROKER_PORT: String(broker), PUSHDESK_BROKER_ADMIN_PORT: String(admin),
  });
  if (process.env.PD_FIRST_RUN_REUSE === '1' && process.env.PD_BUILD) {
    Object.assign(stackEnv, { PUSHDESK_NO_BUILD: '1', PUSHDESK_BUILD: process.env.PD_BUILD });
  }
  base = `http://127.0.0.1:${http}`;
});

// Runs once: after the tests, or on the way out of a run cut short (tests/run's
// timeout sends SIGTERM to the whole process group).
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (existsSync(path.join(clone, 'scripts', 'stack'))) {
    const d = stack('down', 120_000);
    if (!d.ok) console.log(`# scripts/stack down failed:\n${d.out}`);
  }
  if (process.env.PD_KEEP !== '1') rmSync(root, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { cleanup(); process.exit(128 + os.constants.signals[sig]); });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  cleanup();
});

// A printed login: "  customer1  customer1@demo.pushdesk.test  password PW  id ID"
function login(name) {
  const m = upOut.match(new RegExp(`^\\s+${name}\\s+(\\S+@\\S+)\\s+password\\s+(\\S+)\\s+id\\s+(\\S+)`, 'm'));
  assert.ok(m, `scripts/stack up printed no login for ${name}:\n${upOut}`);
  return { email: m[1], password: m[2], id: m[3] };
}

let upOk = false;
test('scripts/stack up in a fresh clone brings the stack up and prints logins', { timeout: 1_500_000 }, () => {
  const r = stack('up', 1_400_000);
  upOut = r.out;
  console.log(`# scripts/stack up took ${r.secs} s${stackEnv.PUSHDESK_NO_BUILD ? ' (binaries of PD_BUILD)' : ' (with the build)'}`);
  assert.ok(r.ok, `scripts/stack up failed:\n${r.out.slice(-4000)}`);
  assert.match(upOut, new RegExp(`pushdesk is up: ${base}/`));
  upOk = true;
});

const text = {
  subject: 'My printer says PC LOAD LETTER',
  first: 'What does that even mean?',
  agent: 'It wants letter-size paper in the tray. Can you check?',
  customer: 'That was it, thank you!',
};
let ticketId;

test('the page as a newcomer sees it: sign in, live, ticket, replies both ways', { timeout: 240_000 }, async (t) => {
  assert.ok(upOk, 'scripts/stack up failed: nothing to check');
  const agent = login('agent1');
  const customer = login('customer1');
  browser = await launchBrowser();
  A = await openPage(browser, 'agent');
  C = await openPage(browser, 'customer');
  try {
    // the bundle comes from the broker: no CLIENT_MISSING on a fresh clone
    const bundle = A.page.waitForResponse((r) => new URL(r.url()).pathname === '/socket.io/socket.io.min.js', { timeout: W });
    await signIn(A.page, base, agent, W);
    assert.equal((await bundle).status(), 200, 'GET /socket.io/socket.io.min.js');
    await signIn(C.page, base, customer, W);
    for (const p of [A.page, C.page]) await p.locator('#conn[data-state="live"]').waitFor({ timeout: W });
    for (const p of [A.page, C.page]) {
      assert.equal(await bannerText(p), '', `${p.pdWho}'s page shows an error`);
    }
    await screenshot(A.page, 'first-run-agent-signed-in');

    // the customer opens a ticket; the agent's list shows it without a reload
    const p = C.page;
    await p.click('#new-ticket-button');
    await p.fill('#nt-subject', text.subject);
    await p.fill('#nt-message', text.first);
    await p.click('#nt-submit');
    await p.locator('#ticket-view').waitFor({ state: 'visible', timeout: W });
    ticketId = await p.getAttribute('#ticket-view', 'data-ticket-id');
    assert.match(ticketId || '', /^[0-9a-f-]{8,}$/i, 'the ticket view names the new ticket');
    const item = A.page.locator(`#ticket-list li[data-ticket-id=${q(ticketId)}]`);
    await item.waitFor({ timeout: W });
    assert.match(await item.textContent(), /PC LOAD LETTER/);
    await screenshot(A.page, 'first-run-agent-list-live');

    // the agent opens it and replies; the customer sees the reply
    await item.click();
    await A.page.locator(`#ticket-view[data-ticket-id=${q(ticketId)}][data-loaded="1"]`).waitFor({ timeout: W });
    await A.page.locator('#messages .msg', { hasText: text.first }).waitFor({ timeout: W });
    await Promise.all([A.page, C.page].map((pg) =>
      pg.locator(`#ticket-view[data-ticket-id=${q(ticketId)}][data-joined="1"]`).waitFor({ timeout: W })));
    await A.page.fill('#composer-input', text.agent);
    await A.page.press('#composer-input', 'Enter');
    await C.page.locator(`#messages .msg[data-sender-id=${q(agent.id)}]`, { hasText: text.agent }).waitFor({ timeout: W });
    await screenshot(C.page, 'first-run-customer-got-reply');

    // the customer answers; the agent sees it
    await C.page.fill('#composer-input', text.customer);
    await C.page.press('#composer-input', 'Enter');
    await A.page.locator(`#messages .msg[data-sender-id=${q(customer.id)}]`, { hasText: text.customer }).waitFor({ timeout: W });
    await screenshot(A.page, 'first-run-agent-got-answer');
  } catch (err) {
    for (const pg of [A?.page, C?.page]) await screenshot(pg, `FAILED-first-run-${pg?.pdWho}`).catch(() => {});
    const notes = [];
    for (const pg of [A?.page, C?.page]) {
      const b = await bannerText(pg);
      if (b) notes.push(`${pg.pdWho} page errors: ${b}`);
    }
    const log = pageLog(A?.page, C?.page);
    err.message += (notes.length ? `\n${notes.join('\n')}` : '') + (log ? `\npage log:\n${log}` : '');
    throw err;
  }
});

// With the sanitizer build's binaries (PD_FIRST_RUN_REUSE=1 under
// tests/run --build build-asan) a report lands in the clone's logs, which
// cleanup() removes: look now.
test("the clone's daemon logs hold no sanitizer report", { timeout: 30_000 }, (t) => {
  assert.ok(upOk, 'scripts/stack up failed: nothing to check');
  const dir = path.join(stackEnv.PUSHDESK_STATE, 'log');
  const logs = readdirSync(dir).filter((n) => n.endsWith('.log'));
  for (const want of ['api.log', 'broker.log']) assert.ok(logs.includes(want), `${want} in ${logs.join(' ')}`);
  const bad = [];
  for (const f of logs) {
    const body = readFileSync(path.join(dir, f), 'utf8');
    const m = body.match(/^.*(ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:).*$/m);
    if (m) bad.push(`${f}: ${m[0]}`);
  }
  assert.deepEqual(bad, []);
});
