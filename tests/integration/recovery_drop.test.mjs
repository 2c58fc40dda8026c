// Connection state recovery (contract 8), one broker behind the stack's
// nginx: while the API publishes (POST /emit to one user, every 20 ms), the
// client's connection is cut under it (socket.io.engine.close(), the
// transport closes without a Socket.IO DISCONNECT) and socket.io-client
// reconnects by itself. Over WebSocket and over long-polling: the socket
// comes back with recovered === true and the same id, and every event
// published is received once, in order (published counted against
// received). The CONNECT reply carried a pid and every event an offset (the
// string the client keeps as _lastOffset). Presence does not flap: the
// user's org sees no user:offline / user:online for the drop.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, client, open, outcome, closeAll, sleep, mark, seen } from './lib/rt.mjs';
import { publisher, ticks, assertExact } from './lib/recovery.mjs';
import { waitFor } from './lib/pd.mjs';

const w = world();

after(() => closeAll());

async function dropAndRecover(transports) {
  const user = w.user('customer');
  const agent = w.user('agent');
  const run = `${transports[0]}-${Date.now()}`;
  const s = client(user, { transports, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 });
  const { got, offsets } = ticks(s, run);
  assert.ok((await outcome(s)).ok, 'connected');
  assert.equal(s.recovered, false, 'a first connect is not a recovery');
  assert.equal(typeof s._pid, 'string', 'the CONNECT reply carries a pid');
  const sid = s.id;
  const watcher = await open(agent); // sees the org's user:online / user:offline
  const pub = publisher(w.service, { users: [user.id] }, run);
  await waitFor(() => got.length >= 20, { timeout: 10_000, what: '20 ticks before the drop' });
  const m0 = mark(watcher);
  assert.match(String(offsets[0]), /^\d+-\d+$/, 'every event carries a stream offset as its last argument');
  const reconnected = new Promise((r) => s.once('connect', r));
  s.io.engine.close(); // the network goes away under the socket
  await reconnected;
  assert.equal(s.recovered, true, 'recovered === true');
  assert.equal(s.id, sid, 'same socket id');
  await sleep(1000); // more events after the recovery
  const count = await pub.stop();
  await waitFor(() => got.length >= count, { timeout: 10_000, what: `${count} ticks (have ${got.length})` }).catch(() => {});
  await sleep(300); // a duplicate would come now
  assertExact(got, count, transports.join('+'));
  // presence does not flap: the dropped user never went offline
  assert.deepEqual([seen(watcher, 'user:offline', (v) => v === user.id, m0).length,
    seen(watcher, 'user:online', (v) => v === user.id, m0).length], [0, 0], 'no user:offline / user:online pair');
  process.stdout.write(`# recovery drop ${transports}: published ${count}, received ${got.length}\n`);
  s.disconnect();
}

describe('connection state recovery: network drop', () => {
  test('over WebSocket: recovered, every event once, in order', T, async () => {
    await dropAndRecover(['websocket']);
  });
  test('over long-polling: recovered, every event once, in order', T, async () => {
    await dropAndRecover(['polling']);
  });
});
