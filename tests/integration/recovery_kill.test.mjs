// Connection state recovery (contract 8) survives the broker: two brokers A
// and B behind nginx with the sample site's sticky rule
// (tests/integration/lib/nginx_cluster.mjs), 12 clients spread over them by
// their routing cookie, the API publishing to their org every 20 ms. B is
// killed with kill -9; its clients reconnect through nginx to A and are
// recovered there (same id, recovered === true) from the session and events
// B had left in Valkey. Every client, moved or not, receives every event
// published once, in order (published counted against received), and the
// org sees no user:offline / user:online for the moved users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, client, outcome, closeAll, sleep, brokerConfig, mark, seen } from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { waitFor } from './lib/pd.mjs';
import { startNginx, sampleRoutes, spreadKeys } from './lib/nginx_cluster.mjs';
import { publisher, ticks, assertMoved, metric } from './lib/recovery.mjs';

const w = world();
let A, B, ngx;

before(async () => {
  const confs = sampleRoutes().map((r) => brokerConfig({ lease_ttl: 3, presence_ttl: 3, broker_route: r }));
  [A, B] = await Promise.all(confs.map((config) => startBroker({ config })));
  ngx = await startNginx([`127.0.0.1:${A.port}`, `127.0.0.1:${B.port}`]);
});
after(async () => {
  closeAll();
  await Promise.all([ngx && ngx.stop(), A && A.stop(), B && B.stop()]);
});

for (const transports of [['websocket'], ['polling']]) {
  test(`kill -9 of a broker (${transports}): its clients recovered on the other, every event once, in order`, T, async () => {
    if (B.exited) {
      // B back for the next run; nginx keeps it marked failed for the
      // sample's fail_timeout (10 s)
      B = await startBroker({ config: B.args[B.args.indexOf('--config') + 1], port: B.port });
      await sleep(11_000);
    }
    const run = `kill-${transports}-${Date.now()}`;
    const socks = [];
    const users = Array.from({ length: 12 }, () => w.user('agent')); // before any socket: ctl blocks
    const watcher = client(w.user('agent'), { url: A.url }); // the org's user:online / user:offline
    const keys = await spreadKeys(ngx, 12); // six clients on each broker
    for (let i = 0; i < 12; i++) {
      const s = client(users[i], {
        url: ngx.url, transports, extraHeaders: { cookie: `pushdesk_route=${keys[i]}` },
        reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500,
      });
      s.t = ticks(s, run);
      socks.push(s);
    }
    for (const s of [...socks, watcher]) assert.ok((await outcome(s)).ok, 'connected');
    const ids = socks.map((s) => s.id);
    const pub = publisher(w.service, {}, run);
    await waitFor(() => socks.every((s) => s.t.got.length >= 20), { timeout: 15_000, what: '20 ticks each' });
    const rec0 = await metric(A.adminUrl, 'recovery_sessions_recovered_total');
    const m0 = mark(watcher);
    B.proc.kill('SIGKILL');
    await B.exitP;
    await sleep(1500);
    await waitFor(() => socks.every((s) => s.connected), { timeout: 20_000, what: 'every client connected again' });
    await sleep(1000);
    const count = await pub.stop();
    await waitFor(() => socks.every((s) => s.t.got.length >= count), { timeout: 15_000, what: `${count} ticks each` }).catch(() => {});
    await sleep(300);
    const moved = assertMoved(socks, ids, socks.map(() => count));
    assert.ok(await metric(A.adminUrl, 'recovery_sessions_recovered_total') >= rec0 + moved.length,
      'A counts the sessions it recovered');
    // presence does not flap: B's connections expire (presence_ttl 3 s) after
    // the moved sockets took them over on A
    await sleep(3000);
    for (const s of moved) {
      assert.deepEqual([seen(watcher, 'user:offline', (v) => v === s.user.id, m0).length,
        seen(watcher, 'user:online', (v) => v === s.user.id, m0).length], [0, 0], `no presence flap for ${s.user.id}`);
    }
    const recv = socks.reduce((a, s) => a + s.t.got.length, 0);
    process.stdout.write(`# recovery kill -9 ${transports}: ${socks.length} clients (${moved.length} moved), published ${count} each, received ${recv} of ${count * socks.length}\n`);
    for (const s of socks) s.disconnect();
  });
}
