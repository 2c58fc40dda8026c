// Several brokers behind nginx, with the SAMPLE production site's sticky rule
// (share/nginx-site/pushdesk.conf: a request with a sid goes to the broker
// of the route that ends the sid; a handshake by cookie pushdesk_route, else
// $remote_addr, `hash $pushdesk_route consistent`), contract 3 and 3.1.
// Started here: two brokers A and B (the stack's pushdesk.conf with
// presence_ttl = lease_ttl = 3 s, pings every 2 s, broker_route = the
// sample's routes) and an nginx whose maps, upstreams (servers replaced by A
// and B) and location /socket.io/ are copied verbatim from the sample
// (tests/integration/lib/nginx_cluster.mjs). Clients pick their broker
// through the routing cookie (extraHeaders); nginx's access log tells which
// broker served each request.
//   1. long-polling and polling-then-WebSocket clients: every ack comes back,
//      each session stays on one broker, clients land on both brokers;
//   2. message:send crosses brokers through nginx;
//   3. kill -9 of B: its clients reconnect through nginx to A, peers see at
//      most one user:offline/user:online pair per user, the users are online
//      again and can send; a user who does not reconnect goes offline within
//      presence_ttl + 2 s.
// Before 3: kill -9 of B, then B back (issue 13's failback): the clients
// that moved to A stay there, with no second disconnect
// (tests/integration/lib/failback.mjs).
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  T, world, must, mkTicket, client, outcome, close, closeAll, ack, mark, seen, next, nextEntry,
  assertOkAck, sleep, brokerConfig,
} from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { waitFor } from './lib/pd.mjs';
import { startNginx, sampleRoutes } from './lib/nginx_cluster.mjs';
import { killAndRestart } from './lib/failback.mjs';

const PRESENCE_TTL = 3;
const LEASE_TTL = 3;
const w = world();
let A, B, ngx, confs;
const ROUTES = sampleRoutes();
const where = new Map(); // routing cookie value -> 'A' | 'B'
const keysOn = { A: [], B: [] };
const addrOf = () => ({ A: `127.0.0.1:${A.port}`, B: `127.0.0.1:${B.port}` });

// A raw Engine.IO handshake through nginx (cookie: the routing key or none);
// the session is closed at once. Resolves the response.
async function handshake(cookie) {
  const headers = cookie === undefined ? {} : { cookie: `pushdesk_route=${cookie}` };
  const r = await fetch(`${ngx.url}/socket.io/?EIO=4&transport=polling`, { headers, signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  assert.equal(r.status, 200, `handshake through nginx: ${r.status} ${text}`);
  const { sid } = JSON.parse(text.slice(1));
  const c = await fetch(`${ngx.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, {
    method: 'POST', headers: { ...headers, 'content-type': 'text/plain;charset=UTF-8' }, body: '1', signal: AbortSignal.timeout(5000),
  });
  await c.text();
  return { sid, setCookie: r.headers.get('set-cookie') };
}

// The broker ('A'/'B') that served the handshake of sid, from the access log.
async function brokerOfSid(sid) {
  const a = addrOf();
  const e = await waitFor(() => ngx.log().find((x) => x.sid === sid), { timeout: 5000, what: `access log line of sid ${sid}` });
  assert.equal(e.upstreams.length, 1, `one upstream: ${e.upstream}`);
  assert.equal(e.status, 200, `status of ${e.method} sid ${sid}`);
  return e.last === a.A ? 'A' : e.last === a.B ? 'B' : assert.fail(`unknown upstream ${e.upstream}`);
}

async function gauge(b, re) {
  const r = await fetch(`${b.adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
  const m = re.exec(await r.text());
  assert.ok(m, `${re} in ${b.adminUrl}/metrics`);
  return Number(m[1]);
}
const socketsOn = (b) => gauge(b, /^pushdesk_broker_sockets\{namespace="\/"\} (\d+)$/m);

// A socket.io-client through our nginx, routed by `key` (a cookie value).
function via(user, key, opts = {}) {
  return client(user, { url: ngx.url, transports: ['polling'], extraHeaders: { cookie: `pushdesk_route=${key}` }, ...opts });
}
async function openVia(user, key, opts) {
  const s = via(user, key, opts);
  const r = await outcome(s);
  if (!r.ok) throw new Error(`connect_error through nginx (key ${key}): ${r.message}`);
  return s;
}

before(async () => {
  confs = ROUTES.map((r) => brokerConfig({
    presence_ttl: PRESENCE_TTL, lease_ttl: LEASE_TTL, ping_interval: 2000, ping_timeout: 5000, broker_route: r,
  }));
  [A, B] = await Promise.all(confs.map((config) => startBroker({ config })));
  ngx = await startNginx([`127.0.0.1:${A.port}`, `127.0.0.1:${B.port}`]);
  // Which broker each of 24 routing keys lands on.
  for (let i = 0; i < 24; i++) {
    const key = `k${i}-${randomBytes(4).toString('hex')}`;
    const { sid } = await handshake(key);
    const b = await brokerOfSid(sid);
    where.set(key, b);
    keysOn[b].push(key);
  }
});
after(async () => {
  closeAll();
  await Promise.all([ngx && ngx.stop(), A && A.stop(), B && B.stop()]);
});
afterEach(() => closeAll());

describe('nginx (sample site) in front of two brokers', () => {
  test('the routing key: cookie pushdesk_route, else the address, which the first answer sets as the cookie', T, async () => {
    assert.ok(keysOn.A.length > 0 && keysOn.B.length > 0,
      `24 routing keys spread over both brokers: A ${keysOn.A.length}, B ${keysOn.B.length}`);
    const bare = await handshake(undefined);
    assert.match(bare.setCookie || '', /^pushdesk_route=127\.0\.0\.1;/, `Set-Cookie without a cookie: ${bare.setCookie}`);
    const withCookie = await handshake('127.0.0.1');
    assert.equal(withCookie.setCookie, null, 'no Set-Cookie when the client sends the cookie');
    assert.equal(await brokerOfSid(withCookie.sid), await brokerOfSid(bare.sid),
      'the cookie the first answer sets routes to the broker the address routed to');
    // the same key always goes to the same broker
    for (const key of [keysOn.A[0], keysOn.B[0]]) {
      assert.equal(await brokerOfSid((await handshake(key)).sid), where.get(key), `key ${key} again`);
    }
  });

  test('20 clients, long-polling and polling-then-WebSocket: 10 acks each, sessions sticky, both brokers used', T, async (tc) => {
    const t = await mkTicket(w.customer);
    const users = [w.agent, w.agent2, w.admin, w.user('agent')];
    const keys = [...where.keys()];
    const plan = Array.from({ length: 20 }, (_, i) => ({
      key: keys[i % keys.length], upgrade: i % 2 === 1, user: users[i % users.length],
    }));
    const before0 = { A: await socketsOn(A), B: await socketsOn(B) };
    const socks = await Promise.all(plan.map((p) => openVia(p.user, p.key, p.upgrade ? { transports: ['polling', 'websocket'] } : {})));
    // the upgrading ones reach WebSocket; the others stay on polling
    await waitFor(() => socks.every((s, i) => s.io.engine.transport.name === (plan[i].upgrade ? 'websocket' : 'polling')),
      { timeout: 5000, what: 'the upgrades to WebSocket' });
    const want = { A: 0, B: 0 };
    for (const p of plan) want[where.get(p.key)]++;
    assert.ok(want.A > 0 && want.B > 0, `clients on both brokers: ${JSON.stringify(want)}`);
    const got = { A: (await socketsOn(A)) - before0.A, B: (await socketsOn(B)) - before0.B };
    tc.diagnostic(`sockets per broker: ${JSON.stringify(got)} (expected ${JSON.stringify(want)})`);
    assert.deepEqual(got, want, 'each broker\'s pushdesk_broker_sockets gauge counts the clients routed to it');
    // 10 acks each, all at once: 200 acks through nginx
    const res = await Promise.all(socks.map(async (s, i) => {
      const out = [];
      for (let n = 0; n < 10; n++) {
        out.push(await ack(s, n % 2 ? 'presence:ping' : 'ticket:join', ...(n % 2 ? [] : [t.id])));
      }
      return out.map((r, n) => ({ r, i, n }));
    }));
    for (const { r, i, n } of res.flat()) assertOkAck(r, `client ${i} ack ${n}`);
    for (const s of socks) {
      assert.equal(s.connected, true);
      assert.deepEqual(s.disconnects, []);
    }
    // a room emit reaches all 20 (ticket:<id> spans both brokers)
    const ms = socks.map(mark);
    const r = await ack(socks[0], 'message:send', { ticketId: t.id, content: 'to all twenty' });
    assertOkAck(r);
    await Promise.all(socks.map((s, i) => next(s, 'message:new', (x) => x.id === r.message.id, { since: ms[i] })));
    // stickiness: every request of every session went to its key's broker
    // only (nginx logs a WebSocket when it ends: close them first)
    const a = addrOf();
    const idx = new Map(socks.map((s, i) => [s.io.engine.id, i]));
    const sids = new Set(idx.keys());
    assert.equal(sids.size, 20);
    for (const s of socks) close(s);
    await waitFor(() => ngx.log().filter((e) => sids.has(e.sid) && e.status === 101).length >= 10,
      { timeout: 5000, what: 'the access log lines of the ten WebSockets' });
    const lines = ngx.log().filter((e) => sids.has(e.sid));
    assert.ok(lines.length >= 20 * 3, `access log lines of the sessions: ${lines.length}`);
    for (const e of lines) {
      const i = idx.get(e.sid);
      assert.equal(e.cookie, plan[i].key);
      assert.equal(e.upstream, a[where.get(plan[i].key)], `request of session ${e.sid} (${e.method} ${e.transport} ${e.status}) went to ${e.upstream}`);
      assert.ok(e.status === 200 || e.status === 101, `status ${e.status} for ${e.method} ${e.transport}`);
    }
    assert.equal(lines.filter((e) => e.status === 101).length, 10, 'ten WebSocket upgrades');
  });

  test('message:send through nginx crosses brokers: a member on A and one on B', T, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const cs = await openVia(c, keysOn.A[0]);
    const ag = await openVia(w.agent, keysOn.B[0], { transports: ['polling', 'websocket'] });
    for (const s of [cs, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    let m = mark(ag);
    let r = await ack(cs, 'message:send', { ticketId: t.id, content: 'from A to B' });
    assertOkAck(r);
    assert.equal(r.delivered, true);
    assert.equal((await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m })).content, 'from A to B');
    m = mark(cs);
    r = await ack(ag, 'message:send', { ticketId: t.id, content: 'from B to A' });
    assertOkAck(r);
    assert.equal((await next(cs, 'message:new', (x) => x.id === r.message.id, { since: m })).content, 'from B to A');
    await sleep(300);
    assert.equal(seen(cs, 'message:new', (x) => x.id === r.message.id, m).length, 1, 'once');
    const a = addrOf();
    assert.ok(ngx.log().filter((e) => e.sid === cs.io.engine.id).every((e) => e.upstream === a.A), 'the customer\'s session on A');
    assert.ok(ngx.log().filter((e) => e.sid === ag.io.engine.id).every((e) => e.upstream === a.B), 'the agent\'s session on B');
  });

  test('kill -9 of B, then B back: the clients that moved to A stay connected (no second "Session ID unknown")', { timeout: 180_000 }, async (tc) => {
    // Where a session is: the route that ends its sid.
    const brokerOf = (s) => {
      const id = (s.io.engine && s.io.engine.id) || '';
      const r = id.slice(id.indexOf('.') + 1);
      return id.includes('.') && r === ROUTES[0] ? 'A' : id.includes('.') && r === ROUTES[1] ? 'B' : null;
    };
    let n = 0;
    const openOn = async (which, user, opts) => {
      const s = await openVia(user, keysOn[which][n++ % keysOn[which].length], opts);
      if (brokerOf(s) !== which) {
        close(s);
        throw new Error(`a session for ${which} landed on ${brokerOf(s)}: ${s.io.engine.id}`);
      }
      return s;
    };
    B = await killAndRestart(tc, {
      w, B, brokerOf, openOn,
      restartB: () => startBroker({ config: confs[1], port: B.port, adminPort: B.adminPort }),
      movers: 6,
      settleMs: 8000,
    });
    // and the moved sessions' requests went to A only, after B came back too
    const a = addrOf();
    const movedLines = ngx.log().filter((e) => e.sid && e.sid.endsWith(`.${ROUTES[0]}`) && e.t > Date.now() - 60_000);
    assert.ok(movedLines.length > 0);
    for (const e of movedLines) assert.equal(e.last, a.A, `${e.method} of ${e.sid} went to ${e.upstream}`);
  });

  // Last: B does not come back.
  test('kill -9 of B: its clients reconnect through nginx to A; at most one offline/online pair; a client that does not reconnect goes offline', T, async (tc) => {
    const t = await mkTicket(w.customer);
    const [x, y, z] = [w.user('agent'), w.user('agent'), w.user('agent')];
    const obs = await openVia(w.agent2, keysOn.A[0], { transports: ['polling', 'websocket'] });
    const obs2 = await openVia(w.admin, keysOn.A[1] || keysOn.A[0]);
    const observers = [obs, obs2];
    const m0 = observers.map(mark);
    const recon = { reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 1000 };
    const xs = await openVia(x, keysOn.B[0], recon); // long-polling
    const ys = await openVia(y, keysOn.B[1] || keysOn.B[0], { ...recon, transports: ['polling', 'websocket'] });
    const zs = await openVia(z, keysOn.B[0]); // reconnection: false
    for (const s of [obs, xs]) assertOkAck(await ack(s, 'ticket:join', t.id));
    for (let i = 0; i < observers.length; i++) {
      for (const u of [x, y, z]) await next(observers[i], 'user:online', (v) => v === u.id, { since: m0[i] });
    }
    await waitFor(() => ys.io.engine.transport.name === 'websocket', { timeout: 5000, what: 'y upgraded' });
    const connects = new Map([[xs, 0], [ys, 0]]);
    for (const s of [xs, ys]) s.on('connect', () => connects.set(s, connects.get(s) + 1));
    const mk = observers.map(mark);

    const killed = Date.now();
    await B.stop('SIGKILL');

    // x and y come back (through nginx, now to A)
    await waitFor(() => connects.get(xs) >= 1 && connects.get(ys) >= 1 && xs.connected && ys.connected,
      { timeout: 10_000, what: 'x and y to reconnect' });
    const back = Date.now() - killed;
    tc.diagnostic(`x and y reconnected ${back} ms after the SIGKILL`);
    const a = addrOf();
    for (const [s, who] of [[xs, 'x'], [ys, 'y']]) {
      const lines = ngx.log().filter((e) => e.sid === s.io.engine.id);
      assert.ok(lines.length > 0, `${who}: access log lines of the new session`);
      for (const e of lines) assert.equal(e.last, a.A, `${who}'s new session is served by A: ${e.upstream}`);
    }
    assert.equal(zs.connected, false, 'z does not reconnect');
    // they work: x joins again and sends; y pings
    assertOkAck(await ack(xs, 'ticket:join', t.id));
    const mm = mark(obs);
    const r = await ack(xs, 'message:send', { ticketId: t.id, content: 'after the failover' });
    assertOkAck(r);
    await next(obs, 'message:new', (v) => v.id === r.message.id, { since: mm });
    assertOkAck(await ack(ys, 'presence:ping'));

    // z goes offline within presence_ttl + 2 s
    const off = await nextEntry(obs, 'user:offline', (v) => v === z.id, { since: mk[0], ms: Math.max(0, killed + (PRESENCE_TTL + 2) * 1000 - Date.now()) + 200 });
    tc.diagnostic(`z offline ${off.t - killed} ms after the SIGKILL (presence_ttl ${PRESENCE_TTL} s)`);
    assert.ok(off.t - killed <= (PRESENCE_TTL + 2) * 1000, `z offline after ${off.t - killed} ms`);

    // past presence_ttl + lease_ttl: B's leftovers are gone; count the pairs
    await sleep(Math.max(0, killed + (PRESENCE_TTL + LEASE_TTL + 2) * 1000 - Date.now()));
    for (let i = 0; i < observers.length; i++) {
      for (const [u, who] of [[x, 'x'], [y, 'y']]) {
        const offs = seen(observers[i], 'user:offline', (v) => v === u.id, mk[i]).length;
        const ons = seen(observers[i], 'user:online', (v) => v === u.id, mk[i]).length;
        tc.diagnostic(`observer ${i}, ${who}: ${offs} user:offline, ${ons} user:online`);
        assert.ok(offs <= 1 && ons === offs, `observer ${i}, ${who}: at most one pair, offline ${offs} online ${ons}`);
      }
      assert.equal(seen(observers[i], 'user:offline', (v) => v === z.id, mk[i]).length, 1, `observer ${i}: z offline once`);
      assert.equal(seen(observers[i], 'user:online', (v) => v === z.id, mk[i]).length, 0, `observer ${i}: z not online again`);
    }
    // presence: x and y online, z offline (socket and REST)
    const fresh = await openVia(w.user('agent'), keysOn.A[0]);
    const mf = mark(fresh);
    fresh.emit('presence:subscribe', { userIds: [x.id, y.id, z.id] });
    const list = await next(fresh, 'presence:list', () => true, { since: mf });
    const st = Object.fromEntries(list.map((e) => [e.userId, e.status]));
    assert.equal(st[x.id], 'online', JSON.stringify(list));
    assert.equal(st[y.id], 'online', JSON.stringify(list));
    assert.equal(st[z.id], 'offline', JSON.stringify(list));
    const p = await must(200, 'GET', `/presence?userIds=${x.id},${y.id},${z.id}`, undefined, w.agent);
    const rest = Object.fromEntries(p.data.map((e) => [e.userId, e.status]));
    assert.deepEqual(rest, { [x.id]: 'online', [y.id]: 'online', [z.id]: 'offline' });
    // and x still sends after B's lease is gone
    const m2 = mark(obs);
    const r2 = await ack(xs, 'message:send', { ticketId: t.id, content: 'later still' });
    assertOkAck(r2);
    await next(obs, 'message:new', (v) => v.id === r2.message.id, { since: m2 });
    for (const s of [xs, ys]) assert.equal(s.connected, true);
    close(fresh);
  });
});
