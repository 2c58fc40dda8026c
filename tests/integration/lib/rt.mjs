// Helpers for the rt_*.test.mjs tests: the helpdesk's real-time work of
// contract sections 3.1-3.3, driven with the real socket.io-client against
// the stack of tests/lib/stack.sh (through nginx, or brokers started here).
//
//   world()                     a new org with customer, customer2, agent,
//                               agent2, admin, service (pushdeskctl users, tokens)
//   call(method, path, body, user)   the API as that user; {status, body, text}
//   mkTicket(customer, subject?)     POST /tickets as the customer -> the ticket
//   client(user, opts)          a socket.io-client socket (not yet awaited),
//                               recording every event it receives in s.log;
//                               opts: url, nsp, transports, token, keep (not
//                               closed by closeAll), socket.io-client options
//   open(user, opts)            client() connected (throws on connect_error)
//   outcome(s)                  {ok} or {ok:false, message} of the handshake
//   ack(s, event, ...args)      emit with an acknowledgement; its first argument
//   next(s, event, pred, {ms, since})   the first payload matching (waits)
//   seen(s, event, pred, since) the payloads received so far
//   quiet(s, event, pred, ms, since)    asserts none arrives within ms
//   mark(s)                     a position in s.log for `since`
//   closeAll()                  disconnects every socket made here
//   presenceConns(userId, n)    waits until Valkey holds n presence connections
//                               of the user (a broker writes them after CONNECT)
//   brokerConfig(overrides)     a copy of $PD_CONF with keys changed
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { api, mkOrg, mkUser, env, uniq } from './pd.mjs';
import { requireNode, sleep, withTimeout, tmpDir } from './broker.mjs';

export { sleep, withTimeout, requireNode, uniq, env };

const { io } = requireNode('socket.io-client');

// The bound of every single wait: ten seconds, as an ASan daemon is 2-4
// times slower and CI runs three files at once on two cores (lib/seeds.mjs's
// W is 15 s); a wait that holds returns at once.
export const WAIT = 10_000;
export const T = { timeout: 90_000 }; // per test

// ---- users and objects -------------------------------------------------------

export function world() {
  const org = mkOrg();
  const w = { org };
  for (const [k, role] of [['customer', 'customer'], ['customer2', 'customer'], ['agent', 'agent'],
    ['agent2', 'agent'], ['admin', 'admin'], ['service', 'service']]) {
    w[k] = mkUser(org, role);
  }
  w.user = (role = 'customer', opts) => mkUser(org, role, opts);
  return w;
}

export async function call(method, p, body, user, headers) {
  const r = await api(method, p, body, user ? user.token || user : undefined, headers);
  return { status: r.status, body: r.body, text: r.text };
}

// The API call must answer `status`; resolves its body.
export async function must(status, method, p, body, user) {
  const r = await call(method, p, body, user);
  assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
  return r.body;
}

export async function mkTicket(customer, subject = uniq('ticket')) {
  return must(201, 'POST', '/tickets', { subject }, customer);
}

export async function messagesOf(ticketId, user) {
  const b = await must(200, 'GET', `/tickets/${ticketId}/messages?limit=100`, undefined, user);
  return b.data;
}

// ---- sockets -----------------------------------------------------------------

const sockets = new Set();

export function client(user, opts = {}) {
  const { url = env.http, nsp = '/', transports = ['websocket'], token, keep = false, ...rest } = opts;
  const tok = token ?? (typeof user === 'string' ? user : user.token);
  const s = io(url + nsp, {
    forceNew: true, reconnection: false, timeout: WAIT, transports, auth: { token: tok }, ...rest,
  });
  s.user = user;
  s.log = [];
  s.disconnects = [];
  s.onAny((event, ...args) => { s.log.push({ event, args, t: Date.now() }); });
  s.on('disconnect', (reason) => { s.disconnects.push(reason); });
  if (!keep) sockets.add(s); // keep: not closed by closeAll (close it yourself)
  return s;
}

export function outcome(s, ms = WAIT) {
  if (s.connected) return Promise.resolve({ ok: true });
  return withTimeout(new Promise((resolve) => {
    s.once('connect', () => resolve({ ok: true }));
    s.once('connect_error', (e) => resolve({ ok: false, message: e.message, data: e.data }));
  }), ms, 'connect or connect_error');
}

export async function open(user, opts = {}) {
  const s = client(user, opts);
  const r = await outcome(s);
  if (!r.ok) throw new Error(`connect_error for ${user && user.role} ${user && user.id}: ${r.message}`);
  return s;
}

export function close(s) {
  try { s.disconnect(); } catch { /* gone */ }
  sockets.delete(s);
}

export function closeAll() {
  for (const s of sockets) { try { s.disconnect(); } catch { /* gone */ } }
  sockets.clear();
}

// emit with an acknowledgement; resolves the ack's first argument.
export async function ack(s, event, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    s.timeout(WAIT).emit(event, ...args, (err, res) => (err ? reject(new Error(`no ack for ${event}: ${err.message}`)) : resolve(res)));
  }), WAIT + 1000, `ack of ${event}`);
}

export const mark = (s) => s.log.length;

export function seen(s, event, pred = () => true, since = 0) {
  return s.log.slice(since).filter((e) => e.event === event && pred(...e.args)).map((e) => e.args[0]);
}

// The first payload of `event` (since `since`) matching pred; waits at most ms.
export async function next(s, event, pred = () => true, { ms = WAIT, since = 0 } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = s.log.slice(since).find((e) => e.event === event && pred(...e.args));
    if (hit) return hit.args[0];
    if (Date.now() >= deadline) {
      const got = s.log.slice(since).map((e) => e.event).join(', ');
      throw new Error(`no matching "${event}" within ${ms} ms on ${s.user && s.user.role} socket (received: ${got || 'nothing'})`);
    }
    await sleep(15);
  }
}

// Like next, but resolves the log entry ({event, args, t}).
export async function nextEntry(s, event, pred = () => true, { ms = WAIT, since = 0 } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = s.log.slice(since).find((e) => e.event === event && pred(...e.args));
    if (hit) return hit;
    if (Date.now() >= deadline) throw new Error(`no matching "${event}" within ${ms} ms`);
    await sleep(15);
  }
}

// Asserts that no `event` matching pred arrives (since `since`) within ms.
export async function quiet(s, event, pred = () => true, ms = 1000, since = mark(s), what = '') {
  await sleep(ms);
  const got = seen(s, event, pred, since);
  assert.equal(got.length, 0, `unexpected "${event}" ${what}: ${JSON.stringify(got).slice(0, 500)}`);
}

// The error a failed event gives: the `error` event (no ack asked) ...
export async function errorEvent(s, since, ms = WAIT) {
  return next(s, 'error', () => true, { ms, since });
}

// Asserts an ack is an error ack {error:{code,message}} with one of codes.
export function assertErrAck(res, codes, what = '') {
  const list = [].concat(codes);
  assert.ok(res && typeof res === 'object' && res.error && typeof res.error === 'object',
    `${what}: expected an error ack, got ${JSON.stringify(res)}`);
  assert.ok(list.includes(res.error.code), `${what}: code ${res.error.code}, expected ${list.join(' or ')} (${JSON.stringify(res)})`);
  assert.equal(typeof res.error.message, 'string', `${what}: error.message`);
}

export function assertErrEvent(e, codes, what = '') {
  const list = [].concat(codes);
  assert.ok(e && typeof e === 'object', `${what}: error payload ${JSON.stringify(e)}`);
  assert.ok(list.includes(e.code), `${what}: code ${e.code}, expected ${list.join(' or ')} (${JSON.stringify(e)})`);
  assert.equal(typeof e.message, 'string', `${what}: message`);
}

export function assertOkAck(res, what = '') {
  assert.ok(res && res.ok === true, `${what}: expected {ok:true,...}, got ${JSON.stringify(res)?.slice(0, 400)}`);
}

// Waits until Valkey holds exactly n presence connections of the user (the
// zset of shared/pd_keys.h, <adapter_key>:{presence}:<user>:conns). A broker
// writes a connection after its CONNECT reply and removes it after the
// disconnect it saw: a socket being connected (or closed) says nothing yet
// about what presence:sync, GET /presence or another broker's departure
// check read there.
export async function presenceConns(userId, n, ms = 2 * WAIT) {
  const { createClient } = requireNode('redis');
  const c = createClient({ url: env.redisUrl });
  await c.connect();
  try {
    const key = `${confValue('adapter_key') || 'socket.io'}:{presence}:${userId}:conns`;
    let have;
    for (const t0 = Date.now(); Date.now() - t0 < ms;) {
      if ((have = await c.zCard(key)) === n) return;
      await sleep(50);
    }
    assert.fail(`${key}: ${have} connections in Valkey after ${ms} ms, ${n} expected`);
  } finally {
    await c.quit();
  }
}

// ---- brokers of our own ------------------------------------------------------

function parseConf(file) {
  const out = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^\s*([a-z_0-9]+)\s*=\s*(.*?)\s*$/);
    if (m) out.push([m[1], m[2]]);
  }
  return out;
}

export function confValue(key, dflt = '') {
  let v = dflt;
  for (const [k, x] of parseConf(env.conf)) if (k === key) v = x;
  return v;
}

// A copy of the stack's pushdesk.conf with keys changed (null removes one).
export function brokerConfig(overrides = {}, dir = tmpDir('rt-conf-')) {
  const keep = parseConf(env.conf).filter(([k]) => !(k in overrides));
  for (const [k, v] of Object.entries(overrides)) if (v !== null && v !== undefined) keep.push([k, v]);
  const file = path.join(dir, 'pushdesk.conf');
  writeFileSync(file, keep.map(([k, v]) => `${k} = ${v}\n`).join(''));
  return file;
}

export const SUMMARY = ['id', 'subject', 'status', 'priority', 'customerId', 'assigneeId', 'createdAt'];
export const MESSAGE = ['id', 'ticketId', 'content', 'senderId', 'senderName', 'senderRole', 'createdAt'];
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Asserts obj has every key of keys (extra keys such as eventId allowed).
export function hasKeys(obj, keys, what = '') {
  assert.ok(obj && typeof obj === 'object', `${what}: not an object: ${JSON.stringify(obj)}`);
  for (const k of keys) assert.ok(k in obj, `${what}: missing "${k}" in ${JSON.stringify(obj).slice(0, 400)}`);
}
