// The broker in normal mode (JWT handshake; no database, no Valkey) and in
// `--profile bench`, driven by the real socket.io-client. Tokens are minted
// here (HS256 over node:crypto).

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  startBroker, requireNode, waitEvent, withTimeout, sleep, freePort, writeConfig, mintJwt, claims,
} from './lib/broker.mjs';
import { httpReq, pollOpen } from './lib/rawclient.mjs';

const { io } = requireNode('socket.io-client');

const T = { timeout: 20000 };
const SECRET = 'broker-auth-test-secret-0123456789abcdef';
const ALLOWED_ORIGIN = 'http://dash.allowed.test:8080';
let b;       // normal mode
let bench;   // --profile bench
const open = [];

before(async () => {
  const port = await freePort();
  const config = writeConfig({ jwt_secret: SECRET, broker_listen: `127.0.0.1:${port}`, cors_origins: ALLOWED_ORIGIN });
  b = await startBroker({ config, listen: false, port });
  bench = await startBroker({ config, profile: 'bench' });   // --listen overrides broker_listen
});
after(async () => { await Promise.all([b && b.stop(), bench && bench.stop()]); });
afterEach(() => { for (const s of open.splice(0)) { try { s.disconnect(); } catch { /* ignore */ } } });

function client(path, opts = {}, url = b.url) {
  const s = io(url + path, { forceNew: true, reconnection: false, timeout: 5000, transports: ['websocket'], ...opts });
  open.push(s);
  return s;
}

// Resolves 'connected' or the connect_error (message, data).
async function outcome(s, ms = 5000) {
  return withTimeout(new Promise((resolve) => {
    s.once('connect', () => resolve({ ok: true }));
    s.once('connect_error', (e) => resolve({ ok: false, message: e.message, data: e.data }));
  }), ms, 'connect or connect_error');
}

function emitAck(s, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    s.timeout(5000).emit(...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  }), 6000, `ack of ${args[0]}`);
}

const tok = (extra, opts) => mintJwt(claims(extra), SECRET, opts);
const agent = () => tok({ role: 'agent' });
const admin = () => tok({ role: 'admin', sub: '00000000-0000-4000-8000-0000000000a1' });

describe('handshake refusals', () => {
  test('no token -> AUTH_TOKEN_MISSING', T, async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const r = await outcome(client('/', { transports }));
      assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_MISSING'], transports[0]);
    }
  });

  test('empty auth.token -> AUTH_TOKEN_MISSING', T, async () => {
    const r = await outcome(client('/', { auth: { token: '' } }));
    assert.equal(r.message, 'AUTH_TOKEN_MISSING');
  });

  test('expired token -> AUTH_TOKEN_EXPIRED', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await outcome(client('/', { auth: { token: tok({ iat: now - 3600, exp: now - 30 }) } }));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_EXPIRED']);
  });

  const invalid = {
    'bad signature': () => tok({}, { badSig: true }),
    'signed with another secret': () => mintJwt(claims(), 'another-secret'),
    'alg none': () => tok({}, { alg: 'none' }),
    'alg none with the real signature attached': () => {
      const good = tok();
      const none = tok({}, { alg: 'none' });
      return none + good.split('.')[2];
    },
    'alg HS512 (not the configured HS256)': () => tok({}, { alg: 'HS512' }),
    'not a JWT': () => 'not-a-jwt',
    'two segments': () => tok().split('.').slice(0, 2).join('.'),
    'payload not JSON (correctly signed)': () => {
      const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{nope').toString('base64url')}`;
      return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    },
  };
  for (const [name, make] of Object.entries(invalid)) {
    test(`${name} -> AUTH_TOKEN_INVALID`, T, async () => {
      const r = await outcome(client('/', { auth: { token: make() } }));
      assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_INVALID']);
    });
  }

  test('an invalid Bearer header -> AUTH_TOKEN_INVALID', T, async () => {
    const r = await outcome(client('/', { transports: ['polling'], extraHeaders: { Authorization: `Bearer ${tok({}, { badSig: true })}` } }));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_INVALID']);
  });

  test('auth.token takes precedence over the Authorization header', T, async () => {
    const r = await outcome(client('/', {
      transports: ['polling'],
      auth: { token: tok({}, { badSig: true }) },
      extraHeaders: { Authorization: `Bearer ${agent()}` },
    }));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_INVALID']);
  });

  test('after a refused handshake the broker still accepts a good one', T, async () => {
    const r1 = await outcome(client('/', { auth: { token: 'garbage' } }));
    assert.equal(r1.ok, false);
    const r2 = await outcome(client('/', { auth: { token: agent() } }));
    assert.equal(r2.ok, true);
  });
});

describe('token accepted', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`via auth.token (${transports[0]})`, T, async () => {
      const s = client('/', { transports, auth: { token: agent() } });
      assert.deepEqual(await outcome(s), { ok: true });
      assert.ok(s.id);
    });
  }

  test('via Authorization: Bearer on polling (Node client extraHeaders)', T, async () => {
    const s = client('/', { transports: ['polling'], extraHeaders: { Authorization: `Bearer ${agent()}` } });
    assert.deepEqual(await outcome(s), { ok: true });
    assert.equal(s.io.engine.transport.name, 'polling');
  });

  test('via Authorization: Bearer on websocket', T, async () => {
    const s = client('/', { transports: ['websocket'], extraHeaders: { Authorization: `Bearer ${agent()}` } });
    assert.deepEqual(await outcome(s), { ok: true });
  });

  test('via Authorization: Bearer, polling then upgrade', T, async () => {
    const s = client('/', { transports: ['polling', 'websocket'], extraHeaders: { Authorization: `Bearer ${agent()}` } });
    const up = waitEvent(s.io.engine, 'upgrade', 5000);
    assert.deepEqual(await outcome(s), { ok: true });
    await up;
    assert.equal(s.io.engine.transport.name, 'websocket');
  });

  for (const transports of [['websocket'], ['polling']]) {
    test(`via cookie pushdesk_token (${transports[0]})`, T, async () => {
      const s = client('/', { transports, extraHeaders: { Cookie: `a=1; pushdesk_token=${agent()}; z=2` } });
      assert.deepEqual(await outcome(s), { ok: true });
    });
  }

  test('a customer token is accepted on /', T, async () => {
    const s = client('/', { auth: { token: tok({ role: 'customer', sub: '00000000-0000-4000-8000-0000000000c1' }) } });
    assert.deepEqual(await outcome(s), { ok: true });
  });
});

describe('/dashboard', () => {
  test('refused with FORBIDDEN for an agent', T, async () => {
    const r = await outcome(client('/dashboard', { auth: { token: agent() } }));
    assert.deepEqual([r.ok, r.message], [false, 'FORBIDDEN']);
  });

  test('refused with FORBIDDEN for a customer', T, async () => {
    const r = await outcome(client('/dashboard', { auth: { token: tok({ role: 'customer' }) } }));
    assert.deepEqual([r.ok, r.message], [false, 'FORBIDDEN']);
  });

  test('refused with AUTH_TOKEN_MISSING without a token', T, async () => {
    const r = await outcome(client('/dashboard'));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_MISSING']);
  });

  test('accepted for an admin', T, async () => {
    const s = client('/dashboard', { auth: { token: admin() } });
    assert.deepEqual(await outcome(s), { ok: true });
  });

  test('an unknown namespace -> Invalid namespace', T, async () => {
    const r = await outcome(client('/nope', { auth: { token: admin() } }));
    assert.deepEqual([r.ok, r.message], [false, 'Invalid namespace']);
  });
});

describe('errors after connect', () => {
  test('unknown event -> error {code:"BAD_REQUEST"}; with an ack -> {error:{code,message}}; still usable', T, async () => {
    const s = client('/', { auth: { token: agent() } });
    assert.deepEqual(await outcome(s), { ok: true });

    const errP = waitEvent(s, 'error', 5000);
    s.emit('no:such:event', { x: 1 });
    const [e] = await errP;
    assert.equal(e.code, 'BAD_REQUEST');
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);

    let strayError = null;
    s.on('error', (x) => { strayError = x; });
    const [a] = await emitAck(s, 'no:such:event', 1);
    assert.equal(a.error.code, 'BAD_REQUEST');
    assert.equal(typeof a.error.message, 'string');
    assert.deepEqual(Object.keys(a).sort(), ['error']);
    await sleep(200);
    assert.equal(strayError, null, 'with an ack the error comes in the ack, not as an error event');

    // still usable
    assert.equal(s.connected, true);
    const [ok] = await emitAck(s, 'presence:status', { status: 'away' });
    assert.equal(ok.ok, true, `presence:status ack: ${JSON.stringify(ok)}`);
    const [again] = await emitAck(s, 'another:unknown');
    assert.equal(again.error.code, 'BAD_REQUEST');
    assert.equal(s.connected, true);
  });

  test('error acks over polling: every one arrives', T, async () => {
    const s = client('/', { transports: ['polling'], auth: { token: agent() } });
    assert.deepEqual(await outcome(s), { ok: true });
    for (let i = 0; i < 20; i++) {
      const [a] = await emitAck(s, `no:such:event:${i}`, i);
      assert.equal(a.error.code, 'BAD_REQUEST', `round ${i}`);
    }
  });

  test('presence:status with a bad status -> error BAD_REQUEST', T, async () => {
    const s = client('/', { auth: { token: agent() } });
    assert.deepEqual(await outcome(s), { ok: true });
    const errP = waitEvent(s, 'error', 5000);
    s.emit('presence:status', { status: 'sleeping' });
    const [e] = await errP;
    assert.equal(e.code, 'BAD_REQUEST');
    assert.equal(s.connected, true);
  });
});

describe('--profile bench', () => {
  test('the JWT handshake applies', T, async () => {
    const r = await outcome(client('/', {}, bench.url));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_MISSING']);
  });

  for (const transports of [['websocket'], ['polling']]) {
    test(`join acks {ok:true}; echo acks its arguments (${transports[0]})`, T, async () => {
      const s = client('/', { transports, auth: { token: agent() } }, bench.url);
      assert.deepEqual(await outcome(s), { ok: true });
      const [j] = await emitAck(s, 'join', 'room-1');
      assert.equal(j.ok, true);
      const r = await emitAck(s, 'echo', 1, 'two', { three: [3, null, true] });
      assert.deepEqual(r, [1, 'two', { three: [3, null, true] }]);
      const r2 = await emitAck(s, 'echo');
      assert.deepEqual(r2, []);
      // every ack arrives, round after round
      for (let i = 0; i < 10; i++) {
        const [jj] = await emitAck(s, 'join', `room-${i}`);
        assert.equal(jj.ok, true, `join round ${i}`);
        assert.deepEqual(await emitAck(s, 'echo', i, { i }), [i, { i }], `echo round ${i}`);
      }
    });
  }
});

describe('normal mode: Engine.IO defaults and CORS from configuration', () => {
  test('open packet: Socket.IO defaults (pingInterval 25000, pingTimeout 20000, maxPayload 1e6)', T, async () => {
    const { open } = await pollOpen(b.port, '/socket.io/');
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(open.maxPayload, 1000000);
  });

  test('an allowed Origin is reflected, with credentials', T, async () => {
    const r = await httpReq({ port: b.port, path: '/socket.io/?EIO=4&transport=polling', headers: { Origin: ALLOWED_ORIGIN } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
  });

  test('preflight for an allowed Origin', T, async () => {
    const r = await httpReq({
      port: b.port, method: 'OPTIONS', path: '/socket.io/?EIO=4&transport=polling',
      headers: { Origin: ALLOWED_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.ok([200, 204].includes(r.status), `status ${r.status}`);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match((r.headers['access-control-allow-methods'] || '').toUpperCase(), /POST/);
  });

  test('another Origin gets no Access-Control-Allow-Origin for it', T, async () => {
    const r = await httpReq({ port: b.port, path: '/socket.io/?EIO=4&transport=polling', headers: { Origin: 'http://evil.test' } });
    const acao = r.headers['access-control-allow-origin'];
    assert.ok(acao === undefined || (acao !== '*' && acao !== 'http://evil.test'), `Access-Control-Allow-Origin: ${acao}`);
  });
});
