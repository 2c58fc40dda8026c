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
