// Two brokers behind Apache httpd with the SAMPLE production site's sticky
// rule (share/apache/pushdesk.conf: mod_proxy_balancer, stickysession=sid,
// route= per member = each broker's broker_route; contract 5 "Front ends").
// Started here: brokers A and B (the stack's pushdesk.conf, broker_route =
// the sample's routes, short pings so that polling clients poll often) and
// an Apache whose balancer and /socket.io/ location are copied verbatim from
// the sample (tests/integration/lib/apache_cluster.mjs). Apache's access log
// tells which member served each request.
//   0. the whole sample passes apache2 -t;
//   1. handshakes spread over both members; every sid ends in its broker's
//      route; every request of a session, polling or the WebSocket upgrade,
//      went to that broker;
//   2. polling-only clients on A and on B: message:send crosses brokers;
//   3. kill -9 of B, then B back (issue 13's failback): the clients that
//      moved to A stay there, with no second disconnect
//      (tests/integration/lib/failback.mjs).
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, client, outcome, close, closeAll, ack, mark, next, assertOkAck, brokerConfig,
} from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { waitFor } from './lib/pd.mjs';
import { startApache, sampleRoutes, configtestSample } from './lib/apache_cluster.mjs';
import { killAndRestart } from './lib/failback.mjs';

const w = world();
const ROUTES = sampleRoutes();
const confs = ROUTES.map((r) => brokerConfig({
  presence_ttl: 3, lease_ttl: 3, ping_interval: 2000, ping_timeout: 5000, broker_route: r,
}));
let A, B, front;
const addr = (b) => `127.0.0.1:${b.port}`;

// Where a session is: the route that ends its sid.
function brokerOf(s) {
  const id = s.io.engine && s.io.engine.id;
  const route = id && id.includes('.') ? id.slice(id.indexOf('.') + 1) : null;
  return route === ROUTES[0] ? 'A' : route === ROUTES[1] ? 'B' : null;
}

// A client through Apache that starts on `which`: mod_proxy_balancer reads
// the route from a cookie named like stickysession when the URL has no sid,
// so the handshake goes to that member; every later request carries ?sid=.
const startOn = (which) => ({ extraHeaders: { cookie: `sid=pick.${ROUTES[which === 'A' ? 0 : 1]}` } });

// A connected client through Apache whose session is on `which`.
async function openOn(which, user, opts = {}) {
  const s = client(user, { url: front.url, ...startOn(which), ...opts });
  const r = await outcome(s, 10_000);
  if (!r.ok) { close(s); throw new Error(`connect_error through Apache: ${r.message}`); }
  if (brokerOf(s) !== which) {
    close(s);
    throw new Error(`a session for ${which} landed on ${brokerOf(s)}: ${s.io.engine.id}`);
  }
  return s;
}

// A raw Engine.IO handshake through Apache, closed at once; resolves the sid.
async function handshake() {
  const r = await fetch(`${front.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  assert.equal(r.status, 200, `handshake through Apache: ${r.status} ${text}`);
  const { sid } = JSON.parse(text.slice(1));
  const c = await fetch(`${front.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, {
    method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '1', signal: AbortSignal.timeout(5000),
  });
  await c.text();
  return sid;
}

before(async () => {
  assert.equal(ROUTES.length, 2, `the sample has two members: ${ROUTES}`);
  [A, B] = await Promise.all(confs.map((config) => startBroker({ config })));
  front = await startApache([addr(A), addr(B)]);
});
after(async () => {
  closeAll();
  await Promise.all([front && front.stop(), A && A.stop(), B && B.stop()]);
});
afterEach(() => closeAll());

describe('Apache (sample site) in front of two brokers', () => {
  test('the whole sample site passes apache2 -t', () => {
    configtestSample();
  });

  test('handshakes spread over both brokers; each sid carries its broker\'s route; sessions sticky, WebSocket upgrade included', T, async () => {
    const sids = [];
    for (let i = 0; i < 8; i++) sids.push(await handshake());
    const routes = sids.map((s) => s.slice(s.indexOf('.') + 1));
    for (const s of sids) assert.match(s, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, `sid ${s}`);
    for (const s of sids) assert.equal(s.length, 20, `sid ${s} is 20 characters`);
    assert.deepEqual([...new Set(routes)].sort(), [...ROUTES].sort(), `handshakes on both brokers: ${routes}`);
    const byRoute = { [ROUTES[0]]: addr(A), [ROUTES[1]]: addr(B) };
    await waitFor(() => sids.every((sid) => front.log().some((e) => e.sid === sid)), { timeout: 5000, what: 'the access log' });
    for (const e of front.log().filter((x) => sids.includes(x.sid))) {
      assert.equal(e.worker, byRoute[e.sid.slice(e.sid.indexOf('.') + 1)], `request of ${e.sid} served by ${e.worker}`);
      assert.equal(e.status, 200);
    }

    // socket.io-client through Apache: polling then WebSocket, and polling only
    // (the users first: making one blocks the event loop, and the clients' timers with it)
    const users = Array.from({ length: 8 }, () => w.user('agent'));
    const socks = users.map((u, i) => client(u, {
      url: front.url, transports: i % 4 < 2 ? ['polling', 'websocket'] : ['polling'], ...startOn(i % 2 ? 'B' : 'A'),
    }));
    for (const s of socks) {
      const r = await outcome(s, 10_000);
      assert.equal(r.ok, true, `connect through Apache: ${r.message}`);
    }
    await waitFor(() => socks.every((s, i) => s.io.engine.transport.name === (i % 4 < 2 ? 'websocket' : 'polling')),
      { timeout: 10_000, what: 'the upgrades to WebSocket through Apache' });
    const where = socks.map(brokerOf);
    assert.deepEqual(where, socks.map((s, i) => (i % 2 ? 'B' : 'A')), 'each client on the member its cookie named');
    for (const s of socks) {
      assertOkAck(await ack(s, 'presence:ping'));
      assert.equal(s.connected, true);
      assert.deepEqual(s.disconnects, []);
    }
    const ids = new Map(socks.map((s, i) => [s.io.engine.id, i]));
    const closing = Date.now();
    for (const s of socks) close(s);
    await waitFor(() => front.log().filter((e) => ids.has(e.sid) && e.status === 101).length >= 4,
      { timeout: 10_000, what: 'the access log lines of the four WebSockets' });
    const lines = front.log().filter((e) => ids.has(e.sid));
    assert.ok(lines.length >= 8 * 2, `access log lines of the sessions: ${lines.length}`);
    for (const e of lines) {
      const want = where[ids.get(e.sid)] === 'A' ? addr(A) : addr(B);
      assert.equal(e.worker, want, `${e.method} ${e.transport} ${e.status} of session ${e.sid} went to ${e.worker}`);
      // (a poll that crosses the client's own close may find the session gone: 400)
      if (e.t < closing - 50) assert.ok(e.status === 200 || e.status === 101, `status ${e.status} for ${e.method} ${e.transport} of ${e.sid}`);
    }
  });

  test('polling-only clients on A and on B: message:send crosses brokers through Apache', T, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const cs = await openOn('A', c, { transports: ['polling'] });
    const ag = await openOn('B', w.agent, { transports: ['polling'] });
    for (const s of [cs, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    let m = mark(ag);
    let r = await ack(cs, 'message:send', { ticketId: t.id, content: 'from A to B' });
    assertOkAck(r);
    assert.equal((await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m })).content, 'from A to B');
    m = mark(cs);
    r = await ack(ag, 'message:send', { ticketId: t.id, content: 'from B to A' });
    assertOkAck(r);
    assert.equal((await next(cs, 'message:new', (x) => x.id === r.message.id, { since: m })).content, 'from B to A');
    for (const s of [cs, ag]) {
      const lines = front.log().filter((e) => e.sid === s.io.engine.id);
      assert.ok(lines.length > 0);
      const want = brokerOf(s) === 'A' ? addr(A) : addr(B);
      for (const e of lines) assert.equal(e.worker, want, `${e.method} of ${e.sid} went to ${e.worker}`);
    }
  });

  test('kill -9 of B, then B back: the clients that moved to A stay connected (no second "Session ID unknown")', { timeout: 180_000 }, async (tc) => {
    B = await killAndRestart(tc, {
      w, B, brokerOf, openOn,
      restartB: () => startBroker({ config: confs[1], port: B.port, adminPort: B.adminPort }),
      movers: 6,
      settleMs: 8000,
    });
  });
});
