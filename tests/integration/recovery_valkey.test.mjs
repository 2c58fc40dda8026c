// A Valkey restart during traffic loses nothing for clients that stayed
// connected (contract 8, issue 12): the stack's broker and one of our own
// (two brokers on the stack's redis-server), 6 clients on each, the API
// publishing to their org every 20 ms. redis-server is stopped (its data
// is gone: --save ''), restarted a second later; the API's requests and its
// outbox relay publish what Valkey missed once it is back, and each broker,
// once resubscribed, reads the namespace's stream after the last offset it
// delivered before taking live events again. Every client receives every
// event the API accepted, once (published counted against received); the
// order is checked too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, client, outcome, closeAll, sleep, brokerConfig, env } from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { waitFor, stack } from './lib/pd.mjs';
import { publisher, ticks, assertExact, inversions, metric } from './lib/recovery.mjs';

const w = world();
let B;

before(async () => {
  B = await startBroker({ config: brokerConfig({}) });
});
after(async () => {
  closeAll();
  stack('pd_start_redis');
  if (B) await B.stop();
});

test('Valkey restarted during traffic: every connected client gets every event once, in order', T, async () => {
  const run = `vk-${Date.now()}`;
  const socks = [];
  const users = Array.from({ length: 12 }, () => w.user('agent')); // before any socket: ctl blocks
  for (let i = 0; i < 12; i++) {
    const s = client(users[i], { url: i % 2 ? B.url : env.broker, transports: [i % 4 < 2 ? 'websocket' : 'polling'] });
    s.t = ticks(s, run);
    socks.push(s);
  }
  for (const s of socks) assert.ok((await outcome(s)).ok, 'connected');
  const pub = publisher(w.service, {}, run);
  await waitFor(() => socks.every((s) => s.t.got.length >= 20), { timeout: 15_000, what: '20 ticks each' });
  const at = pub.n;
  stack('pd_stop_redis'); // (execFileSync: the publisher waits meanwhile)
  await sleep(1500);
  const down = pub.n - at; // accepted by the API while Valkey was down
  stack('pd_start_redis');
  await sleep(3000);
  const count = await pub.stop();
  assert.ok(down >= 3, `events accepted while Valkey was down: ${down}`);
  assert.ok(count > at + down, `events published after the restart: ${at} before, ${count} in all`);
  await waitFor(() => socks.every((s) => s.t.got.length >= count), { timeout: 20_000, what: `${count} ticks each` }).catch(() => {});
  await sleep(300);
  const caught = (await metric(B.adminUrl, 'recovery_caught_up_total')) + (await metric(env.brokerAdmin, 'recovery_caught_up_total'));
  const recv = socks.reduce((a, s) => a + s.t.got.length, 0);
  const inv = socks.reduce((a, s) => a + inversions(s.t.got), 0);
  process.stdout.write(`# recovery valkey restart: 12 clients on 2 brokers, published ${count} each, received ${recv} of ${count * socks.length} (${down} accepted while Valkey was down), ${caught} read back from the streams, ${inv} out of order\n`);
  for (const [i, s] of socks.entries()) {
    assert.deepEqual(s.disconnects, [], `client ${i} stayed connected`);
    assertExact(s.t.got, count, `client ${i}`);
  }
});
