// Helpers for the seed_*.test.mjs tests (contract section 7, issue 11): each
// seed's own client calls, made with the real socket.io-client exactly as the
// seed's snippet makes them, against the stack of tests/lib/stack.sh (through
// nginx) and against two brokers of the test's own on the stack's Valkey.
// Built on lib/rt.mjs (its s.log, next, seen, mark, quiet work on these
// sockets too).
//
//   seedSocket(url, opts, user)  io(url, opts) exactly as given (plus
//                                forceNew, no reconnection), recording s.log
//   dialectSocket(user, dialect, opts)  the user's token in auth.token and
//                                ?dialect=NAME (none when dialect is null)
//   connected(s, what)           waits for connect; throws with connect_error
//   refused(s)                   the connect_error message (throws on connect)
//   got(s, event, pred, since)   next() with the generous bound W
//   errorOf(s, since, codes, what)   the next `error` event; asserts its code
//   foreignToken(user, opts)     a token as the seeds' systems mint them
//                                (workspaceId, upper-case roles), HS256 with
//                                the stack's jwt_secret
//   loginCookie(user)            "name=value" of the cookie POST /auth/login sets
//   twoBrokers(conf)             brokers A and B on the stack's database and Valkey
//   closeSeeds()                 disconnects every socket made here and in rt.mjs
import assert from 'node:assert/strict';
import {
  env, next, seen, mark, sleep, closeAll, confValue, brokerConfig, outcome, requireNode,
} from './rt.mjs';
import { mintJwt, startBroker } from './broker.mjs';
import { api } from './pd.mjs';

const { io } = requireNode('socket.io-client');

export const W = 15_000;                // bound of a single wait on a loaded 2-core machine
export const TT = { timeout: 180_000 }; // per test
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const mine = new Set();

export function seedSocket(url, opts = {}, user = null) {
  const s = io(url, { forceNew: true, reconnection: false, timeout: W, ...opts });
  s.user = user;
  s.log = [];
  s.disconnects = [];
  s.onAny((event, ...args) => { s.log.push({ event, args, t: Date.now() }); });
  s.on('disconnect', (reason) => { s.disconnects.push(reason); });
  mine.add(s);
  return s;
}

// The user's token in auth.token (seed 004's and the helpdesk's way), the
// dialect in the handshake's query. opts: url, nsp, token, query, any
// socket.io-client option.
export function dialectSocket(user, dialect, opts = {}) {
  const { url = env.http, nsp = '/', token, query = {}, transports = ['websocket'], ...rest } = opts;
  const q = { ...query };
  if (dialect) q.dialect = dialect;
  const tok = token !== undefined ? token : user && user.token;
  const auth = tok === null ? {} : { token: tok };
  return seedSocket(url + (nsp === '/' ? '' : nsp), { transports, auth, query: q, ...rest }, user);
}

export const outcomeOf = (s, ms = W) => outcome(s, ms);

export async function connected(s, what = '') {
  const r = await outcomeOf(s);
  if (!r.ok) throw new Error(`${what}: connect_error ${r.message}`);
  return s;
}

export async function refused(s, what = '') {
  const r = await outcomeOf(s);
  assert.equal(r.ok, false, `${what}: connected, expected a connect_error`);
  return r.message;
}

// A connected dialect socket.
export async function openAs(user, dialect, opts = {}) {
  return connected(dialectSocket(user, dialect, opts), `${dialect || 'default'} ${opts.nsp || '/'} ${user && user.role}`);
}

export function got(s, event, pred = () => true, since = 0, ms = W) {
  return next(s, event, pred, { ms, since });
}

// The next `error` event since `since`: its code must be one of codes.
export async function errorOf(s, since, codes, what = '') {
  const e = await got(s, 'error', () => true, since);
  const list = [].concat(codes);
  assert.ok(e && typeof e === 'object', `${what}: error payload ${JSON.stringify(e)}`);
  assert.ok(list.includes(e.code), `${what}: error code ${JSON.stringify(e.code)}, expected ${list.join(' or ')} (${JSON.stringify(e)})`);
  return e;
}

// Every `error` since `since`, after letting late ones arrive.
export async function errorsSince(s, since, settle = 500) {
  await sleep(settle);
  return seen(s, 'error', () => true, since);
}

// Exactly `n` events matching pred arrive since `since` (waits for the n-th,
// then a moment for extras).
export async function exactly(s, event, n, pred = () => true, since = 0, what = '') {
  const deadline = Date.now() + W;
  while (seen(s, event, pred, since).length < n && Date.now() < deadline) await sleep(20);
  await sleep(600);
  const list = seen(s, event, pred, since);
  assert.equal(list.length, n, `${what}: ${list.length} "${event}" received, ${n} expected`);
  return list;
}

export function closeSeeds() {
  for (const s of mine) { try { s.disconnect(); } catch { /* gone */ } }
  mine.clear();
  closeAll();
}

export { mark, seen, sleep };

// ---- tokens and cookies ------------------------------------------------------

// A token shaped like the seeds' own: the org in `workspaceId` (or orgClaim),
// no `org`, the role as the seed spells it (CLIENT, FREELANCER, ADMIN...).
export function foreignToken(user, { role, orgClaim = 'workspaceId', ttl = 3600, extra = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: user.id, [orgClaim]: user.org, role, name: user.name, email: user.email,
    iat: now, exp: now + ttl, ...extra,
  };
  return mintJwt(claims, confValue('jwt_secret'));
}

export const SEED_ROLE = { customer: 'CLIENT', agent: 'FREELANCER', admin: 'ADMIN' };

// POST /auth/login as a browser does; the cookie it sets ("name=value").
export async function loginCookie(user) {
  const r = await api('POST', '/auth/login', { email: user.email, password: user.password });
  assert.equal(r.status, 200, `login: ${r.status} ${r.text}`);
  const name = confValue('token_cookie', 'pushdesk_token') || 'pushdesk_token';
  const all = typeof r.headers.getSetCookie === 'function' ? r.headers.getSetCookie() : [r.headers.get('set-cookie') || ''];
  const c = all.find((x) => x.startsWith(`${name}=`));
  assert.ok(c, `the login sets the ${name} cookie (Set-Cookie: ${JSON.stringify(all)})`);
  assert.match(c, /;\s*HttpOnly/i, 'HttpOnly');
  assert.match(c, /;\s*SameSite=Lax/i, 'SameSite=Lax');
  return c.split(';')[0];
}

// ---- two brokers ---------------------------------------------------------------

// Brokers A and B on the stack's pushdesk.conf (its database, Valkey and
// secret), their own ports; conf: keys changed for both.
export async function twoBrokers(conf = {}) {
  const file = brokerConfig({ presence_ttl: 3, lease_ttl: 3, ...conf });
  const [A, B] = await Promise.all([startBroker({ config: file }), startBroker({ config: file })]);
  return { A, B, stop: () => Promise.all([A.stop(), B.stop()]) };
}
