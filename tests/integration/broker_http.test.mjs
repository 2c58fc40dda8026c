// The broker's HTTP surface besides Engine.IO itself: broker_path, the
// socket.io-client bundle it serves (serveClient), and the Engine.IO
// upgrade corner cases the official engine.io-protocol suite checks.
// Raw HTTP and raw WebSocket frames against --profile socketio-conformance.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBroker, writeConfig, SRC, BROKER_BIN } from './lib/broker.mjs';
import { httpReq, eioPath, pollOpen, RawWs } from './lib/rawclient.mjs';

const T = { timeout: 15000 };

describe('broker_path', () => {
  let b;
  before(async () => {
    // no trailing slash on purpose: the broker adds it, as engine.io does
    b = await startBroker({ profile: 'socketio-conformance', config: writeConfig({ broker_path: '/rt/live' }) });
  });
  after(async () => { await (b && b.stop()); });

  test('the handshake is served under broker_path, with and without its trailing slash', T, async () => {
    for (const base of ['/rt/live/', '/rt/live']) {
      const { sid, open } = await pollOpen(b.port, base);
      assert.equal(typeof sid, 'string');
      assert.deepEqual(open.upgrades, ['websocket']);
    }
    const ws = await RawWs.connect(b.port, eioPath('/rt/live/', { transport: 'websocket' }));
    try {
      assert.equal(ws.status, 101, ws.statusLine);
      const first = await ws.next();
      assert.equal(first.data[0], '0');
    } finally { ws.destroy(); }
  });

  test('the default path is not served when broker_path is set', T, async () => {
    const r = await httpReq({ port: b.port, path: eioPath('/socket.io/', { transport: 'polling' }) });
    assert.equal(r.status, 404);
    const r2 = await httpReq({ port: b.port, path: eioPath('/rt/', { transport: 'polling' }) });
    assert.equal(r2.status, 404);
  });

  test('a broker_path that is not an absolute path is refused at start', T, () => {
    for (const bad of ['socket.io/', '/a b/', '/x?y/', '']) {
      const r = spawnSync(BROKER_BIN, ['--profile', 'socketio-conformance', '--listen', '127.0.0.1:0',
        '--admin-listen', '127.0.0.1:0'], {
        env: { ...process.env, PUSHDESK_BROKER_PATH: bad }, timeout: 5000, encoding: 'utf8',
      });
      assert.notEqual(r.status, 0, `broker_path=${JSON.stringify(bad)} accepted`);
      assert.match(r.stderr, /broker_path/);
    }
  });
});

describe('serveClient: the socket.io-client bundle under broker_path', () => {
  const SHARE = path.join(SRC, 'share', 'socket.io-client');
  let b, custom;
  before(async () => {
    [b, custom] = await Promise.all([
      startBroker({ profile: 'socketio-conformance' }),
      startBroker({ profile: 'socketio-conformance', config: writeConfig({ broker_path: '/rt/' }) }),
    ]);
  });
  after(async () => { await Promise.all([b && b.stop(), custom && custom.stop()]); });

  test('the vendored files are the ones of the socket.io-client tests/node locks', T, () => {
    const lock = JSON.parse(readFileSync(path.join(SRC, 'tests', 'node', 'package-lock.json'), 'utf8'));
    const version = lock.packages['node_modules/socket.io-client'].version;
    assert.match(readFileSync(path.join(SHARE, 'README'), 'utf8'), new RegExp(`^socket\\.io-client ${version.replace(/\./g, '\\.')} `));
    const dist = path.join(SRC, 'tests', 'node', 'node_modules', 'socket.io-client');
    for (const f of ['socket.io.min.js', 'socket.io.js']) {
      assert.ok(readFileSync(path.join(SHARE, f)).equals(readFileSync(path.join(dist, 'dist', f))), `${f} differs from the locked version's`);
      assert.match(readFileSync(path.join(SHARE, f), 'utf8').slice(0, 200), new RegExp(`Socket\\.IO v${version.replace(/\./g, '\\.')}`));
    }
    assert.ok(readFileSync(path.join(SHARE, 'LICENSE')).equals(readFileSync(path.join(dist, 'LICENSE'))));
  });

  for (const f of ['socket.io.min.js', 'socket.io.js']) {
    test(`GET /socket.io/${f}: the file's bytes, its type, an ETag; 304 on If-None-Match`, T, async () => {
      const want = readFileSync(path.join(SHARE, f));
      const r = await httpReq({ port: b.port, path: `/socket.io/${f}` });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/javascript; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'public, max-age=0');
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(Number(r.headers['content-length']), want.length);
      assert.ok(r.body.equals(want), `${f}: ${r.body.length} bytes served, ${want.length} in the file`);
      const etag = r.headers.etag;
      assert.match(etag || '', /^"[0-9a-f]{8,}"$/);

      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
        const r304 = await httpReq({ port: b.port, path: `/socket.io/${f}`, headers: { 'If-None-Match': inm } });
        assert.equal(r304.status, 304, `If-None-Match: ${inm}`);
        assert.equal(r304.body.length, 0);
        assert.equal(r304.headers.etag, etag);
      }
      const stale = await httpReq({ port: b.port, path: `/socket.io/${f}`, headers: { 'If-None-Match': '"0123456789"' } });
      assert.equal(stale.status, 200);
      assert.ok(stale.body.equals(want));

      const head = await httpReq({ port: b.port, method: 'HEAD', path: `/socket.io/${f}` });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.etag, etag);
    });
  }

  test('gzip when Accept-Encoding takes it, and not when q=0', T, async () => {
    const { gunzipSync } = await import('node:zlib');
    const want = readFileSync(path.join(SHARE, 'socket.io.min.js'));
    const r = await httpReq({ port: b.port, path: '/socket.io/socket.io.min.js', headers: { 'Accept-Encoding': 'br;q=1, gzip;q=0.8' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.match(r.headers.vary || '', /accept-encoding/i);
    assert.ok(r.body.length < want.length / 2, `gzip body ${r.body.length} bytes`);
    assert.ok(gunzipSync(r.body).equals(want));
    for (const ae of ['gzip;q=0', 'gzip; q=0.000, identity', 'br, deflate']) {
      const p = await httpReq({ port: b.port, path: '/socket.io/socket.io.min.js', headers: { 'Accept-Encoding': ae } });
      assert.equal(p.headers['content-encoding'], undefined, `Accept-Encoding: ${ae}`);
      assert.ok(p.body.equals(want));
    }
  });

  test('the bundle follows broker_path; other names and methods are refused', T, async () => {
    const want = readFileSync(path.join(SHARE, 'socket.io.min.js'));
    const r = await httpReq({ port: custom.port, path: '/rt/socket.io.min.js' });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(want));
    assert.equal((await httpReq({ port: custom.port, path: '/socket.io/socket.io.min.js' })).status, 404);
    for (const p of ['/socket.io/socket.io.min.js.map', '/socket.io/other.js', '/socket.io/socket.io.min.jsx', '/socket.io.min.js']) {
      assert.equal((await httpReq({ port: b.port, path: p })).status, 404, p);
    }
    const post = await httpReq({ port: b.port, method: 'POST', path: '/socket.io/socket.io.js', body: 'x' });
    assert.equal(post.status, 405);
    assert.match(post.headers.allow || '', /GET/);
  });
});

// engine.io-protocol's test-suite.js, "upgrade": "ignores WebSocket
// connection with same sid after upgrade" waits for the second socket's
// close event (a 400 would be an error event instead); the reference server
// (engine.io's onWebSocket) completes that handshake and closes the socket,
// for a session already upgraded and for one being upgraded alike.
describe('a second WebSocket for a session that has one', () => {
  const EIO = '/engine.io/';
  let echo;
  before(async () => { echo = await startBroker({ profile: 'engineio-echo' }); });
  after(async () => { await (echo && echo.stop()); });

  async function secondIsClosed(sid) {
    const ws2 = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }));
    try {
      assert.equal(ws2.status, 101, `second WebSocket: ${ws2.statusLine}`);
      assert.equal(ws2.acceptOk, true);
      const c = await ws2.waitClose(3000);
      assert.equal(ws2.closeFrame && ws2.closeFrame.code, 1000, `close frame: ${JSON.stringify(ws2.closeFrame)}`);
      assert.equal(ws2.queue.length, 0, 'no Engine.IO packet on the second socket');
      return c;
    } finally { ws2.destroy(); }
  }

  test('after the upgrade ("2probe", "5" sent at once, as the suite does)', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }), { eioPong: true });
    try {
      assert.equal(ws.status, 101);
      ws.send('2probe');
      ws.send('5');
      assert.equal(await ws.nextText(), '3probe');
      await secondIsClosed(sid);
      ws.send('4hello');
      assert.equal(await ws.nextText(), '4hello');
      // the session lives on: polling with its sid is still refused
      const g = await httpReq({ port: echo.port, path: eioPath(EIO, { transport: 'polling', sid }) });
      assert.equal(g.status, 400);
    } finally { ws.destroy(); }
  });

  test('during the probe (before "5"): the probing socket goes on and upgrades', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }), { eioPong: true });
    try {
      ws.send('2probe');
      assert.equal(await ws.nextText(), '3probe');
      await secondIsClosed(sid);
      ws.send('5');
      ws.send('4after');
      assert.equal(await ws.nextText(), '4after');
    } finally { ws.destroy(); }
  });

  test('an unknown sid is still refused with 400 before any upgrade', T, async () => {
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid: 'AAAAAAAAAAAAAAAAAAAA' }));
    try { assert.equal(ws.status, 400, ws.statusLine); } finally { ws.destroy(); }
  });
});
