// What `PUSHDESK_FRONT=apache PUSHDESK_VALKEY=cluster scripts/stack up` runs:
// two brokers with adapter_mode = sharded on a 3-master Valkey Cluster,
// behind the stack's own Apache site (share/apache/httpd.conf.in rendered by
// tests/lib/stack.sh's pd_start_apache with two balancer members). Started
// here: the cluster (pd_start_vcluster), brokers A and B on one pushdesk.conf
// with broker_route = b1, B's route b2 by PUSHDESK_BROKER_ROUTE in its
// environment as scripts/stack starts its second broker, and that Apache
// (PD_BROKER_SERVERS "A B=b2"). Its access log names the route of the member
// that served each request. Driven with the real socket.io-client:
//   1. raw handshakes spread over both members; long-polling-only,
//      polling-then-WebSocket and WebSocket-only clients on both brokers
//      (sid suffixes, each broker's /metrics), every request of a session,
//      the upgrade included, served by its broker;
//   2. a ticket room with members on both brokers and both transports:
//      every message:send and every adapter emit (pushdeskctl, sharded)
//      reaches every member exactly once (published == received);
//   3. a long-polling session stays on its broker for many requests.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  T, world, mkTicket, client, outcome, closeAll, ack, mark, seen, assertOkAck, brokerConfig, sleep,
} from './lib/rt.mjs';
import { startBroker, freePort, clusterPorts, tmpDir } from './lib/broker.mjs';
import { ctl, stack, waitFor } from './lib/pd.mjs';

const ROUTES = ['b1', 'b2'];
const w = world();
let A, B, ports, vdir, url, front;

const sharded = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
});
const ups = (b) => (b.log.match(/valkey up/g) || []).length;
const routeOf = (sid) => (sid && sid.includes('.') ? sid.slice(sid.indexOf('.') + 1) : null);
const brokerOf = (s) => ({ b1: 'A', b2: 'B' })[routeOf(s.io.engine && s.io.engine.id)] || null;

// The stack's Apache (pd_start_apache) in a folder of its own, members A and B.
async function startFront() {
  const dir = tmpDir('pd-apache-vcluster-');
  const port = await freePort();
  const env = {
    PD_DIR: dir, PD_FRONT: 'apache', PD_HTTP_PORT: String(port), PD_BROKER_ROUTE: null,
    PD_BROKER_SERVERS: `127.0.0.1:${A.port} 127.0.0.1:${B.port}=${ROUTES[1]}`,
  };
  stack('pd_start_apache', { env });
  const accessLog = path.join(dir, 'log', 'apache-access.log');
  return {
    url: `http://127.0.0.1:${port}`,
    conf: readFileSync(path.join(dir, 'apache', 'httpd.conf'), 'utf8'),
    // share/apache/httpd.conf.in's LogFormat: %h %t "%r" %>s %b "ROUTE" %D
    log() {
      if (!existsSync(accessLog)) return [];
      return readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => {
        const m = /"(\S+) (\S+) [^"]*" (\d+) \S+ "([^"]*)"/.exec(l);
        if (!m) return { line: l };
        const q = new URLSearchParams(m[2].replace(/^[^?]*\??/, ''));
        return { method: m[1], transport: q.get('transport'), sid: q.get('sid'), status: Number(m[3]), route: m[4] };
      });
    },
    stop: () => stack('pd_stop_apache', { env }),
  };
}

async function gauge(b, re) {
  const r = await fetch(`${b.adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
  const m = re.exec(await r.text());
  assert.ok(m, `${re} in ${b.adminUrl}/metrics`);
  return Number(m[1]);
}
const conns = (b, transport) => gauge(b, new RegExp(`^pushdesk_broker_connections\\{transport="${transport}"\\} (\\d+)$`, 'm'));

// mod_proxy_balancer takes the route of a request without ?sid= from the
// cookie named like stickysession: the handshake goes to that member.
const pin = (which) => ({ extraHeaders: { cookie: `sid=pick.${ROUTES[which === 'A' ? 0 : 1]}` } });

async function openVia(user, which, transports) {
  const s = client(user, { url: front.url, transports, ...pin(which) });
  const r = await outcome(s, 10_000);
  assert.equal(r.ok, true, `connect through Apache (${transports}): ${r.message}`);
  assert.equal(brokerOf(s), which, `a session pinned to ${which}: sid ${s.io.engine.id}`);
  return s;
}

// Every logged request of session sid was served by the member of its route.
function assertSticky(sid, min = 1) {
  const lines = front.log().filter((e) => e.sid === sid);
  assert.ok(lines.length >= min, `${lines.length} access log lines of session ${sid}, want >= ${min}`);
  for (const e of lines) assert.equal(e.route, routeOf(sid), `${e.method} ${e.transport} ${e.status} of ${sid} served by ${e.route}`);
  return lines;
}

before(async () => {
  ports = await clusterPorts();
  vdir = tmpDir('pd-apache-vcluster-nodes-');
  stack('pd_start_vcluster', vdir, ...ports);
  url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}`;
  // short pings: idle long-polls come back often; rates high enough for a burst
  const config = brokerConfig({
    valkey_url: url, adapter_mode: 'sharded', broker_route: ROUTES[0], presence_ttl: 4, lease_ttl: 2,
    ping_interval: 1500, ping_timeout: 5000, rate_message_send: '100/1', rate_default: '1000/60',
  });
  [A, B] = await Promise.all([
    startBroker({ config }),
    startBroker({ config, env: { PUSHDESK_BROKER_ROUTE: ROUTES[1] } }),
  ]);
  await waitFor(() => ups(A) > 0 && ups(B) > 0, { timeout: 15000, what: 'both brokers on the cluster' });
  front = await startFront();
});

after(async () => {
  closeAll();
  try { if (front) front.stop(); } catch { /* reported by the harness */ }
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_stop_vcluster', vdir, ...ports); } catch { /* reported by the harness */ }
});
afterEach(() => closeAll());

test('the rendered httpd.conf has both brokers as members with their routes', () => {
  const members = front.conf.split('\n').filter((l) => /^\s*BalancerMember /.test(l));
  assert.equal(members.length, 2, members.join('\n'));
  assert.match(members[0], new RegExp(`"http://127\\.0\\.0\\.1:${A.port}" route=b1 upgrade=websocket`));
  assert.match(members[1], new RegExp(`"http://127\\.0\\.0\\.1:${B.port}" route=b2 upgrade=websocket`));
  assert.match(front.conf, /stickysession=sid/);
});

test('handshakes spread over both brokers; polling, upgraded and WebSocket-only clients land on both, each session on its broker', T, async () => {
  // raw handshakes without a cookie: the balancer spreads them
  const routes = [];
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${front.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
    const text = await r.text();
    assert.equal(r.status, 200, `handshake through Apache: ${text}`);
    const { sid } = JSON.parse(text.slice(1));
    assert.equal(sid.length, 20, `sid ${sid}`);
    routes.push(routeOf(sid));
    // closed at once (an Engine.IO close packet), by sid through the same member
    const c = await fetch(`${front.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, {
      method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '1', signal: AbortSignal.timeout(5000),
    });
    assert.equal(c.status, 200, `close of ${sid} through Apache: ${await c.text()}`);
  }
  assert.deepEqual([...new Set(routes)].sort(), ROUTES, `handshakes on both brokers: ${routes}`);
  // so that the gauges below count only the clients
  await waitFor(async () => (await conns(A, 'polling')) === 0 && (await conns(B, 'polling')) === 0,
    { timeout: 15000, what: 'the raw sessions closed' });

  const kinds = [['polling'], ['polling', 'websocket'], ['websocket']];
  const users = Array.from({ length: 12 }, () => w.user('agent'));
  const socks = [];
  for (let i = 0; i < users.length; i++) socks.push(await openVia(users[i], i % 2 ? 'B' : 'A', kinds[Math.floor(i / 2) % 3]));
  await waitFor(() => socks.every((s, i) => s.io.engine.transport.name === (Math.floor(i / 2) % 3 === 0 ? 'polling' : 'websocket')),
    { timeout: 10_000, what: 'the upgrades to WebSocket through Apache' });
  for (const s of socks) assertOkAck(await ack(s, 'presence:ping'));
  // each broker: 2 polling and 4 WebSocket connections, as the sids say
  for (const b of [A, B]) {
    await waitFor(async () => (await conns(b, 'polling')) === 2 && (await conns(b, 'websocket')) === 4,
      { timeout: 10_000, what: `2 polling and 4 WebSocket connections on ${b === A ? 'A' : 'B'}` });
  }
  for (const s of socks) {
    assert.equal(s.connected, true);
    assert.deepEqual(s.disconnects, []);
  }
  // WebSocket-only sessions start without a sid: their upgrade went to the pinned member
  const wsOnly = socks.filter((x, i) => Math.floor(i / 2) % 3 === 2).map(brokerOf);
  assert.deepEqual(wsOnly.sort(), ['A', 'A', 'B', 'B']);
  // the access log: every request of a session through the member of its route;
  // the upgraded sessions' WebSockets (101) are logged when they close
  const sids = socks.map((s, i) => (Math.floor(i / 2) % 3 === 2 ? null : s.io.engine.id)).filter(Boolean);
  const upgraded = sids.filter((x, k) => k % 4 >= 2);
  closeAll();
  await waitFor(() => upgraded.every((sid) => front.log().some((e) => e.sid === sid && e.status === 101)),
    { timeout: 10_000, what: 'the WebSocket upgrades in the access log' });
  for (const sid of sids) assertSticky(sid, 2);
  for (const sid of upgraded) {
    const ws = front.log().filter((e) => e.sid === sid && e.transport === 'websocket');
    assert.equal(ws.length, 1, `one WebSocket of ${sid}`);
    assert.equal(ws[0].route, routeOf(sid));
  }
});

test('a room across both brokers through Apache: every event reaches every member once (published == received)', T, async (tc) => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const room = `ticket:${t.id}`;
  const members = [
    await openVia(c, 'A', ['polling']),
    await openVia(w.agent, 'B', ['polling', 'websocket']),
    await openVia(w.agent2, 'A', ['websocket']),
    await openVia(w.admin, 'B', ['polling']),
  ];
  for (const s of members) assertOkAck(await ack(s, 'ticket:join', t.id));
  const since = members.map(mark);
  // published: message:send from each member in turn, and adapter emits from outside
  const N = 24, E = 12;
  const sent = [];
  for (let i = 0; i < N; i++) {
    const r = await ack(members[i % members.length], 'message:send', { ticketId: t.id, content: `m${i}` });
    assertOkAck(r, `message:send ${i}`);
    sent.push(r.message.id);
  }
  for (let i = 0; i < E; i++) assert.ok(sharded('emit', '--room', room, 'vc:tick', String(i)), `emit ${i}`);
  const got = (s, k) => ({
    msgs: seen(s, 'message:new', (x) => x && x.ticketId === t.id, since[k]).map((x) => x.id),
    ticks: seen(s, 'vc:tick', () => true, since[k]),
  });
  await waitFor(() => members.every((s, k) => {
    const g = got(s, k);
    return new Set(g.msgs).size === N && new Set(g.ticks.map(String)).size === E;
  }), { timeout: 20_000, what: `${N} message:new and ${E} vc:tick on every member` });
  await sleep(1000); // a duplicate would arrive by now
  for (const [k, s] of members.entries()) {
    const g = got(s, k);
    assert.equal(g.msgs.length, N, `member ${k} (${brokerOf(s)}) received ${g.msgs.length} message:new for ${N} sent`);
    assert.deepEqual([...g.msgs].sort(), [...sent].sort(), `member ${k}: each message once`);
    assert.equal(g.ticks.length, E, `member ${k} (${brokerOf(s)}) received ${g.ticks.length} vc:tick for ${E} emitted`);
    assert.deepEqual(g.ticks.map(String).sort(), Array.from({ length: E }, (_, i) => String(i)).sort());
  }
  assert.deepEqual(members.map(brokerOf), ['A', 'B', 'A', 'B']);
  // (members[2] is WebSocket-only: its one request carries no sid)
  for (const s of [members[0], members[1], members[3]]) assertSticky(s.io.engine.id);
  tc.diagnostic(`${N} message:send + ${E} emits, ${members.length} members on A and B: each received ${N + E}`);
});

test('a long-polling session stays on its broker for many requests', T, async () => {
  const socks = [await openVia(w.user('agent'), 'A', ['polling']), await openVia(w.user('agent'), 'B', ['polling'])];
  const sids = socks.map((s) => s.io.engine.id);
  const ROUNDS = 40;
  // each ack: a POST of the event, the held GET answered with the ack
  await Promise.all(socks.map(async (s) => {
    for (let i = 0; i < ROUNDS; i++) assertOkAck(await ack(s, 'presence:ping'), `ping ${i}`);
  }));
  await sleep(2 * 1500); // pings too
  for (const [k, s] of socks.entries()) {
    assert.equal(s.io.engine.id, sids[k], 'the same session');
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.equal(s.connected, true);
    assert.deepEqual(s.disconnects, []);
    const lines = assertSticky(sids[k], 2 * ROUNDS);
    for (const e of lines) assert.equal(e.status, 200, `${e.method} of ${sids[k]}: ${e.status}`);
    assert.ok(lines.some((e) => e.method === 'POST') && lines.some((e) => e.method === 'GET'));
  }
  assert.deepEqual(socks.map(brokerOf), ['A', 'B']);
});
