// GET /metrics of the broker's admin listener (issue 6): connection gauges
// by transport, event counters, the delivery latency histogram, the
// slow-reader counter and the Valkey state. Drives an extra broker started
// here with --profile bench (its `join` and `broadcast` events), through the
// real socket.io-client on both transports; the stack's broker, when the
// harness gives PD_BROKER_ADMIN, is scraped too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startBroker, requireNode, withTimeout, writeConfig, mintJwt, claims, sleep,
} from './lib/broker.mjs';
import { wsOpen } from './lib/rawclient.mjs';
import { startRedis, startClusterBroker, waitValkeyUp } from './lib/cluster.mjs';

const { io } = requireNode('socket.io-client');

const T = { timeout: 30000 };
const SECRET = 'metrics-test-secret-0123456789abcdef0123';
let bench;
const open = [];

before(async () => {
  bench = await startBroker({ config: writeConfig({ jwt_secret: SECRET }), profile: 'bench' });
});
after(async () => {
  for (const s of open.splice(0)) { try { s.disconnect(); } catch { /* ignore */ } }
  if (bench) await bench.stop();
});

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
  });
}

// Parses the text format: { samples: Map("name{labels}" -> number),
// types: Map(name -> type), help: Set(name) }. Asserts the syntax of each line.
function parse(text) {
  const samples = new Map();
  const types = new Map();
  const help = new Set();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m;
    if ((m = /^# HELP (\S+) .+$/.exec(line))) { help.add(m[1]); continue; }
    if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.ok(!types.has(m[1]), `TYPE ${m[1]} given twice`);
      types.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed line: ${JSON.stringify(line)}`);
    const v = Number(m[3] === '+Inf' ? Infinity : m[3]);
    assert.ok(!Number.isNaN(v), `not a number: ${line}`);
    const key = m[1] + (m[2] || '');
    assert.ok(!samples.has(key), `sample ${key} given twice`);
    samples.set(key, v);
  }
  return { samples, types, help };
}

async function scrape(url = bench.adminUrl) {
  const r = await get(`${url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parse(r.body);
}

// Scrapes until pred(m) holds (at most ms), and returns the last scrape:
// the broker counts a WebSocket write, and the deliveries it carried in the
// latency histogram, after the write, so a client can read its last frame
// before the counters move.
async function scrapeUntil(pred, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const m = await scrape();
    if (pred(m) || Date.now() > end) return m;
    await sleep(50);
  }
}

const val = (m, key) => {
  assert.ok(m.samples.has(key), `metric ${key} missing`);
  return m.samples.get(key);
};

// The histogram's buckets in le order, checked cumulative and monotone.
function histogram(m, name) {
  assert.equal(m.types.get(name), 'histogram', `${name} TYPE histogram`);
  const buckets = [];
  for (const [k, v] of m.samples) {
    const b = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(k);
    if (b) buckets.push([b[1] === '+Inf' ? Infinity : Number(b[1]), v]);
  }
  const les = buckets.map(([le]) => le);
  assert.deepEqual(les, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Infinity]);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i][0] > buckets[i - 1][0], 'le ascending');
    assert.ok(buckets[i][1] >= buckets[i - 1][1], `cumulative: le=${buckets[i][0]} >= le=${buckets[i - 1][0]}`);
  }
  const count = val(m, `${name}_count`);
  const sum = val(m, `${name}_sum`);
  assert.equal(buckets[buckets.length - 1][1], count, '+Inf bucket == _count');
  assert.ok(sum >= 0);
  return { buckets, count, sum };
}

const token = (n) => mintJwt(claims({ sub: `00000000-0000-4000-8000-0000000000${String(10 + n)}` }), SECRET);

async function connect(transport, n) {
  const s = io(bench.url, {
    forceNew: true, reconnection: false, timeout: 5000, transports: [transport], upgrade: false,
    auth: { token: token(n) },
  });
  open.push(s);
  await withTimeout(new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  }), 6000, `${transport} connect`);
  return s;
}

function emitAck(s, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    s.timeout(5000).emit(...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  }), 6000, `ack of ${args[0]}`);
}

test('the metrics of issue 6, with their types', T, async () => {
  const m = await scrape();
  const want = {
    pushdesk_broker_connections: 'gauge',
    pushdesk_broker_sockets: 'gauge',
    pushdesk_broker_rooms: 'gauge',
    pushdesk_broker_namespaces: 'gauge',
    pushdesk_broker_messages_received_total: 'counter',
    pushdesk_broker_events_sent_total: 'counter',
    pushdesk_broker_messages_received_per_second: 'gauge',
    pushdesk_broker_events_sent_per_second: 'gauge',
    pushdesk_broker_bytes_received_total: 'counter',
    pushdesk_broker_bytes_sent_total: 'counter',
    pushdesk_broker_websocket_writes_total: 'counter',
    pushdesk_broker_slow_reader_disconnects_total: 'counter',
    pushdesk_broker_valkey_state: 'gauge',
    pushdesk_delivery_latency_seconds: 'histogram',
  };
  for (const [name, type] of Object.entries(want)) {
    assert.equal(m.types.get(name), type, `${name} TYPE ${type}`);
    assert.ok(m.help.has(name), `${name} HELP`);
  }
  // every sample belongs to a declared family
  for (const k of m.samples.keys()) {
    const name = k.replace(/\{.*$/, '');
    const fam = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(m.types.has(name) || m.types.get(fam) === 'histogram', `${k} has a TYPE`);
  }
  assert.equal(val(m, 'pushdesk_broker_namespaces'), 1);
  assert.ok(m.samples.has('pushdesk_broker_sockets{namespace="/"}'));
  assert.ok(m.samples.has('pushdesk_broker_rooms{namespace="/"}'));
  // no valkey_url: the state is "none", and the only 1
  assert.equal(val(m, 'pushdesk_broker_valkey_state{state="none"}'), 1);
  assert.equal(val(m, 'pushdesk_broker_valkey_state{state="up"}'), 0);
  assert.equal(val(m, 'pushdesk_broker_valkey_state{state="down"}'), 0);
  assert.equal(val(m, 'pushdesk_broker_slow_reader_disconnects_total'), 0);
  histogram(m, 'pushdesk_delivery_latency_seconds');
});

test('connections by transport, events and the delivery latency histogram', T, async () => {
  const m0 = await scrape();
  const ws0 = val(m0, 'pushdesk_broker_connections{transport="websocket"}');
  const poll0 = val(m0, 'pushdesk_broker_connections{transport="polling"}');
  const h0 = histogram(m0, 'pushdesk_delivery_latency_seconds');

  const ws = [await connect('websocket', 1), await connect('websocket', 2), await connect('websocket', 3)];
  const poll = [await connect('polling', 4), await connect('polling', 5)];
  const all = [...ws, ...poll];

  const m1 = await scrape();
  assert.equal(val(m1, 'pushdesk_broker_connections{transport="websocket"}'), ws0 + 3);
  assert.equal(val(m1, 'pushdesk_broker_connections{transport="polling"}'), poll0 + 2);
  assert.ok(val(m1, 'pushdesk_broker_sockets{namespace="/"}') >= 5);

  for (const s of all) assert.equal((await emitAck(s, 'join', 'metrics-room'))[0].ok, true);
  const m2 = await scrape();
  assert.ok(val(m2, 'pushdesk_broker_rooms{namespace="/"}') >= 1, 'the room is counted');

  // N room emits, each delivered to the 5 members
  const N = 20;
  const got = all.map(() => 0);
  all.forEach((s, i) => s.on('tick', () => { got[i]++; }));
  for (let k = 0; k < N; k++) {
    const [r] = await emitAck(all[k % all.length], 'broadcast', { to: ['metrics-room'], event: 'tick', data: { k } });
    assert.equal(r.ok, true);
  }
  await withTimeout((async () => { while (got.some((g) => g < N)) await sleep(20); })(), 10000, 'every tick');

  const m3 = await scrapeUntil((m) => histogram(m, 'pushdesk_delivery_latency_seconds').count - h0.count >= 5 * N);
  // counters only grow, by at least what this test did
  const d = (k) => val(m3, k) - val(m0, k);
  assert.ok(d('pushdesk_broker_messages_received_total') >= 5 + N,
    `messages in +${d('pushdesk_broker_messages_received_total')}`);
  assert.ok(d('pushdesk_broker_events_sent_total') >= 5 * N, `events out +${d('pushdesk_broker_events_sent_total')}`);
  assert.ok(d('pushdesk_broker_bytes_received_total') > 0);
  assert.ok(d('pushdesk_broker_bytes_sent_total') > 0);
  assert.ok(val(m3, 'pushdesk_broker_events_sent_per_second') > 0, 'events out per second');
  assert.ok(val(m3, 'pushdesk_broker_messages_received_per_second') > 0, 'messages in per second');

  // every (member, emit) delivery is in the histogram, and no more than
  // the events the broker sent since m0
  const h3 = histogram(m3, 'pushdesk_delivery_latency_seconds');
  assert.ok(h3.count - h0.count >= 5 * N, `histogram _count +${h3.count - h0.count}`);
  assert.ok(h3.count - h0.count <= d('pushdesk_broker_events_sent_total'));
  assert.ok(h3.sum > h0.sum, '_sum grew');
  for (let i = 0; i < h3.buckets.length; i++) assert.ok(h3.buckets[i][1] >= h0.buckets[i][1], 'buckets only grow');
  // on loopback, every tick left within a second
  assert.ok(h3.buckets[10][1] - h0.buckets[10][1] >= 5 * N, 'le="1" holds the ticks');

  for (const s of all) s.disconnect();
  await withTimeout((async () => {
    for (;;) {
      const m = await scrape();
      if (val(m, 'pushdesk_broker_connections{transport="websocket"}') === ws0 &&
          val(m, 'pushdesk_broker_connections{transport="polling"}') === poll0) return;
      await sleep(50);
    }
  })(), 10000, 'connection gauges back to their start');
});

// Packets queued to one WebSocket in one loop turn leave in one write:
// 50 acked echoes sent in one TCP write are read in one turn, and their 50
// acks must take far fewer than 50 writes (one, unless a ping or another
// socket's traffic lands in the same window).
test('acks produced in one loop turn leave in one write', T, async () => {
  const ws = await wsOpen(bench.port, '/socket.io/', { eioPong: true });
  try {
    ws.send(`40${JSON.stringify({ token: token(7) })}`);
    assert.match(await ws.nextText(), /^40\{"sid":/);
    const N = 50;
    const m0 = await scrape();
    ws.sock.cork();
    for (let i = 1; i <= N; i++) ws.send(`42${i}["echo",{"i":${i}}]`);
    ws.sock.uncork();
    const acks = new Set();
    while (acks.size < N) {
      const t = await ws.nextText(5000);
      const m = /^43(\d+)\[\{"i":(\d+)\}\]$/.exec(t);
      if (!m) continue;
      assert.equal(m[1], m[2], 'each ack carries its own echo');
      acks.add(Number(m[1]));
    }
    const m1 = await scrapeUntil((m) => val(m, 'pushdesk_broker_websocket_writes_total') > val(m0, 'pushdesk_broker_websocket_writes_total'));
    const d = (k) => val(m1, k) - val(m0, k);
    assert.ok(d('pushdesk_broker_events_sent_total') >= N, `events out +${d('pushdesk_broker_events_sent_total')}`);
    const writes = d('pushdesk_broker_websocket_writes_total');
    assert.ok(writes >= 1 && writes <= 10, `${N} acks took ${writes} writes`);
  } finally {
    ws.destroy();
  }
});

test('a WebSocket upgrade moves the connection from polling to websocket', T, async () => {
  const m0 = await scrape();
  const s = io(bench.url, { forceNew: true, reconnection: false, timeout: 5000, auth: { token: token(6) } });
  open.push(s);
  await withTimeout(new Promise((resolve) => s.io.engine.once('upgrade', resolve)), 8000, 'upgrade');
  // the client sends the upgrade packet just before its event: wait for the broker
  const want = [val(m0, 'pushdesk_broker_connections{transport="websocket"}') + 1,
    val(m0, 'pushdesk_broker_connections{transport="polling"}')];
  let seen;
  await withTimeout((async () => {
    for (;;) {
      const m = await scrape();
      seen = [val(m, 'pushdesk_broker_connections{transport="websocket"}'),
        val(m, 'pushdesk_broker_connections{transport="polling"}')];
      if (seen[0] === want[0] && seen[1] === want[1]) return;
      await sleep(50);
    }
  })(), 5000, `[websocket, polling] = ${JSON.stringify(want)} (seen ${JSON.stringify(seen)})`);
  s.disconnect();
});

test('GET /healthz names the dependencies', T, async () => {
  const h = await get(`${bench.adminUrl}/healthz`);
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok', db: 'none', valkey: 'none' });
});

// The stack's broker when the harness names it; otherwise a broker of our
// own on a redis-server of our own, so that the test always runs.
test('a broker with Valkey configured reports its Valkey state', T, async () => {
  let admin = process.env.PD_BROKER_ADMIN;
  let redis = null;
  let own = null;
  try {
    if (!admin) {
      redis = await startRedis();
      own = await startClusterBroker(redis);
      await waitValkeyUp(own);
      admin = own.adminUrl;
    }
    const m = await scrape(admin);
    const up = val(m, 'pushdesk_broker_valkey_state{state="up"}');
    const down = val(m, 'pushdesk_broker_valkey_state{state="down"}');
    assert.equal(val(m, 'pushdesk_broker_valkey_state{state="none"}'), 0);
    assert.equal(up + down, 1);
    if (own) assert.equal(up, 1, 'our broker reached its redis-server');
    assert.equal(val(m, 'pushdesk_broker_valkey_up'), up);
    assert.ok(m.samples.has('pushdesk_broker_slow_reader_disconnects_total'));
    histogram(m, 'pushdesk_delivery_latency_seconds');
  } finally {
    if (own) await own.stop();
    if (redis) await redis.stop();
  }
});
