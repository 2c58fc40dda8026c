// The real socket.io-client 4.x against
// `pushdesk-broker --profile socketio-conformance`.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, requireNode, waitEvent, withTimeout, sleep, toBuffers } from './lib/broker.mjs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const { io, Manager } = requireNode('socket.io-client');

const T = { timeout: 20000 };
const SLOW_READER = fileURLToPath(new URL('./lib/slow_reader.mjs', import.meta.url));
let b;
const open = [];

before(async () => { b = await startBroker({ profile: 'socketio-conformance' }); });
after(async () => { if (b) await b.stop(); });
afterEach(() => {
  for (const s of open.splice(0)) {
    try { (s.disconnect || s.close).call(s); } catch { /* ignore */ }
    try { if (s.io) s.io.engine && s.io.engine.close(); } catch { /* ignore */ }
  }
});

function client(path = '/', opts = {}, url = b.url) {
  const s = io(url + path, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  open.push(s);
  return s;
}

async function connected(s, ms = 5000) {
  if (s.connected) return;
  const [r] = await Promise.race([
    waitEvent(s, 'connect', ms),
    waitEvent(s, 'connect_error', ms).then(([e]) => { throw new Error(`connect_error: ${e && e.message}`); }),
  ]);
  return r;
}

// Emits `message` and waits for `message-back`; returns its arguments.
async function echo(s, ...args) {
  const back = waitEvent(s, 'message-back', 5000);
  s.emit('message', ...args);
  return back;
}

function ack(s, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    s.timeout(5000).emit('message-with-ack', ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  }), 6000, 'ack of message-with-ack');
}

describe('transports', () => {
  test('websocket only', T, async () => {
    const s = client('/', { transports: ['websocket'] });
    const authP = waitEvent(s, 'auth');
    await connected(s);
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.deepEqual((await authP)[0], {});
    assert.deepEqual(await echo(s, 'ws', 1), ['ws', 1]);
  });

  test('polling only', T, async () => {
    const s = client('/', { transports: ['polling'] });
    const authP = waitEvent(s, 'auth');
    await connected(s);
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.deepEqual((await authP)[0], {});
    assert.deepEqual(await echo(s, 'poll', { a: [1, 2] }), ['poll', { a: [1, 2] }]);
    // a few heartbeats later (pingInterval 300 ms) it is still connected on polling
    await sleep(1200);
    assert.equal(s.connected, true);
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.deepEqual(await echo(s, 'later'), ['later']);
  });

  test('polling then upgrade to websocket', T, async () => {
    const s = client('/', { transports: ['polling', 'websocket'] });
    let first = null;
    s.io.engine.once('open', () => { first = s.io.engine.transport.name; });
    const upgraded = waitEvent(s.io.engine, 'upgrade', 5000);
    await connected(s);
    assert.equal(first, 'polling', 'the Engine.IO session opens on polling');
    const [transport] = await upgraded;
    assert.equal(transport.name, 'websocket');
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.deepEqual(await echo(s, 'after upgrade'), ['after upgrade']);
    assert.deepEqual(await ack(s, 'x', 2), ['x', 2]);
  });

  test('the connection outlives several heartbeats on websocket', T, async () => {
    const s = client('/', { transports: ['websocket'] });
    await connected(s);
    let closed = false;
    s.on('disconnect', () => { closed = true; });
    await sleep(1500);
    assert.equal(closed, false);
    assert.deepEqual(await echo(s, 'hb'), ['hb']);
  });
});

describe('namespaces and auth', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`/ and /custom receive "auth" with the auth object (${transports[0]})`, T, async () => {
      const auth = { token: 'abc', n: 1, nested: { list: [true, null] } };
      const s1 = client('/', { transports, auth });
      const s2 = client('/custom', { transports, auth: { other: 'x' } });
      const a1 = waitEvent(s1, 'auth');
      const a2 = waitEvent(s2, 'auth');
      await Promise.all([connected(s1), connected(s2)]);
      assert.deepEqual((await a1)[0], auth);
      assert.deepEqual((await a2)[0], { other: 'x' });
    });
  }

  test('/custom without auth gets {}', T, async () => {
    const s = client('/custom', { transports: ['websocket'] });
    const a = waitEvent(s, 'auth');
    await connected(s);
    assert.deepEqual((await a)[0], {});
  });

  test('several namespaces on one Manager share one Engine.IO connection', T, async () => {
    const m = new Manager(b.url, { reconnection: false, timeout: 5000, transports: ['websocket'] });
    open.push(m);
    let opens = 0;
    m.on('open', () => { opens++; });
    const main = m.socket('/', { auth: { which: 'main' } });
    const custom = m.socket('/custom', { auth: { which: 'custom' } });
    const am = waitEvent(main, 'auth');
    const ac = waitEvent(custom, 'auth');
    await Promise.all([connected(main), connected(custom)]);
    assert.deepEqual((await am)[0], { which: 'main' });
    assert.deepEqual((await ac)[0], { which: 'custom' });
    assert.equal(opens, 1, 'one Engine.IO connection');
    assert.notEqual(main.id, custom.id, 'each namespace has its own socket id');
    assert.deepEqual(await echo(main, 'm'), ['m']);
    // leaving /custom keeps / working on the same connection
    custom.disconnect();
    await sleep(100);
    assert.equal(main.connected, true);
    assert.deepEqual(await echo(main, 'still'), ['still']);
    main.disconnect();
    m.engine && m.engine.close();
  });

  test('/nope -> connect_error "Invalid namespace"', T, async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const s = client('/nope', { transports });
      const [err] = await waitEvent(s, 'connect_error', 5000);
      assert.equal(err.message, 'Invalid namespace');
      assert.equal(s.connected, false);
    }
  });

  test('an invalid namespace next to a valid one on one Manager', T, async () => {
    const m = new Manager(b.url, { reconnection: false, timeout: 5000, transports: ['websocket'] });
    open.push(m);
    const main = m.socket('/');
    const nope = m.socket('/nope');
    const errP = waitEvent(nope, 'connect_error', 5000);
    await connected(main);
    const [err] = await errP;
    assert.equal(err.message, 'Invalid namespace');
    assert.deepEqual(await echo(main, 'ok'), ['ok']);
    main.disconnect();
    m.engine && m.engine.close();
  });
});

describe('events and acks', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`message -> message-back with the same arguments (${transports[0]})`, T, async () => {
      const s = client('/', { transports });
      await connected(s);
      const args = [1, '2', { 3: [true] }, null, 'é€😀', [[], {}], -0.5];
      assert.deepEqual(await echo(s, ...args), [1, '2', { 3: [true] }, null, 'é€😀', [[], {}], -0.5]);
      assert.deepEqual(await echo(s), []);
    });

    test(`message-with-ack is acknowledged with its own arguments (${transports[0]})`, T, async () => {
      const s = client('/', { transports });
      await connected(s);
      assert.deepEqual(await ack(s, 1, '2', { 3: [true] }), [1, '2', { 3: [true] }]);
      // many outstanding acks, each answered to its own id
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => ack(s, i, `n${i}`)));
      many.forEach((r, i) => assert.deepEqual(r, [i, `n${i}`]));
      const v = await withTimeout(s.timeout(5000).emitWithAck('message-with-ack', 'first', 'second'), 6000, 'emitWithAck');
      assert.equal(v, 'first');
    });

    test(`binary attachments both ways (${transports[0]})`, T, async () => {
      const s = client('/', { transports });
      await connected(s);
      const payload = {
        a: { b: Buffer.from([1, 2, 3]), text: 'x' },
        list: [Buffer.from('hello'), { deep: Buffer.alloc(1000, 9) }, Buffer.alloc(0)],
        n: 5,
      };
      const extra = Buffer.from([0, 255, 0x1e, 0x34]);
      const back = toBuffers(await echo(s, payload, extra, 'tail'));
      assert.deepEqual(back, [payload, extra, 'tail']);
      const acked = toBuffers(await ack(s, { bin: Buffer.from([7, 7]) }, [Buffer.from([8])]));
      assert.deepEqual(acked, [{ bin: Buffer.from([7, 7]) }, [Buffer.from([8])]]);
      // a large attachment
      const big = Buffer.alloc(300000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      const [bb] = toBuffers(await echo(s, big));
      assert.ok(bb.equals(big), 'large attachment echoed intact');
    });
  }

  test('events keep their order', T, async () => {
    const s = client('/', { transports: ['websocket'] });
    await connected(s);
    const got = [];
    const done = new Promise((resolve) => s.on('message-back', (i) => { got.push(i); if (got.length === 200) resolve(); }));
    for (let i = 0; i < 200; i++) s.emit('message', i);
    await withTimeout(done, 5000, '200 echoes');
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('broker restart', () => {
  test('a client with reconnection reconnects after the broker restarts on the same port', { timeout: 40000 }, async () => {
    const own = await startBroker({ profile: 'socketio-conformance' });
    let again;
    try {
      const s = client('/', {
        reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
        randomizationFactor: 0, timeout: 2000,
      }, own.url);
      await connected(s);
      assert.deepEqual(await echo(s, 'before'), ['before']);
      const gone = waitEvent(s, 'disconnect', 5000);
      await own.stop('SIGKILL');
      await gone;
      await sleep(300);
      again = await startBroker({ profile: 'socketio-conformance', port: own.port, adminPort: own.adminPort });
      const [attempts] = await waitEvent(s.io, 'reconnect', 15000);
      assert.ok(attempts >= 1);
      await connected(s);
      assert.deepEqual(await echo(s, 'after restart', Buffer.from([1])).then(toBuffers), ['after restart', Buffer.from([1])]);
      assert.deepEqual(await ack(s, 'ack after restart'), ['ack after restart']);
    } finally {
      await own.stop();
      if (again) await again.stop();
    }
  });
});

describe('slow reader', () => {
  test('a client that stops reading is disconnected; others keep their echoes', { timeout: 40000 }, async (t) => {
    // Under ASan, freed memory waits in a quarantine (256 MB by default)
    // and the RSS bound below would measure that: keep it small.
    const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':');
    const own = await startBroker({ profile: 'socketio-conformance', env: { ASAN_OPTIONS: asan } });
    try {
      const fast = client('/', { transports: ['websocket'] }, own.url);
      await connected(fast);
      const rss0 = own.rssKb();

      // The fast client does acked round trips throughout.
      let stop = false;
      const lat = [];
      let fastErr = null;
      const fastLoop = (async () => {
        while (!stop && !fastErr) {
          const t0 = Date.now();
          const r = await ack(fast, 'ping', lat.length);
          assert.deepEqual(r, ['ping', lat.length]);
          lat.push(Date.now() - t0);
          await sleep(20);
        }
      })().catch((e) => { fastErr = e; });

      // The slow one (a process of its own: its flood's CPU and garbage
      // would hold back this process's answers to the profile's 200 ms
      // pings) stops reading and floods large messages whose echoes pile
      // up, then reads again: the broker must have closed it.
      const child = spawn(process.execPath, [SLOW_READER, String(own.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      let maxRss = rss0 || 0;
      const sampler = setInterval(() => { const r = own.rssKb(); if (r > maxRss) maxRss = r; }, 20);
      const code = await withTimeout(new Promise((resolve) => child.on('exit', resolve)), 30000, 'slow reader process');
      clearInterval(sampler);
      assert.equal(code, 0, `slow reader process: ${out}`);
      const { sent, floodMs, closed } = JSON.parse(out);
      assert.ok(closed, `the broker closed the slow reader (sent ${sent} bytes)`);
      stop = true;
      await withTimeout(fastLoop, 8000, 'fast client loop');

      const info = `slow client sent ${(sent / 1048576).toFixed(1)} MB in ${floodMs} ms; fast acks ${lat.length}, max latency ${Math.max(0, ...lat)} ms; broker RSS ${rss0} -> max ${maxRss} kB`;
      t.diagnostic(info);
      assert.equal(fastErr, null, `fast client failed while a reader stalled (${fastErr && fastErr.message}); ${info}`);
      assert.ok(lat.length >= 5, `too few acks for the fast client: ${info}`);
      const maxLat = Math.max(...lat);
      assert.ok(maxLat < 2000, `fast client ack latency up to ${maxLat} ms`);
      assert.equal(fast.connected, true);
      assert.deepEqual(await echo(fast, 'after'), ['after']);
      if (rss0) {
        const growMb = (maxRss - rss0) / 1024;
        assert.ok(growMb < 64, `broker RSS grew by ${growMb.toFixed(1)} MB while a reader stalled (sent ${(sent / 1048576).toFixed(0)} MB)`);
      }
      assert.equal(own.exited, null, 'the broker is still running');
    } finally {
      await own.stop();
    }
  });
});
