// Connection state recovery (contract 8) in adapter_mode sharded on a
// 3-master Valkey Cluster (issue 14): publishers XADD to the namespace's
// stream ({recovery} slot) and SPUBLISH on the room's shard channel, which
// lives in another slot. Checked with the unmodified socket.io-client and
// pushdeskctl emit as the publisher:
// - the master owning a room's channel restarts mid-traffic: every emit
//   pushdeskctl reported done reaches the members on both brokers exactly
//   once, in order (those whose SPUBLISH failed come from the stream once
//   the brokers subscribe the channel again: recovery_caught_up_total);
// - kill -9 of a broker behind the sample nginx site: its clients come back
//   on the other broker, which had no member in their own rooms (user:<id>
//   channels it did not hold), recovered, with every event once, in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, client, outcome, closeAll, sleep, brokerConfig } from './lib/rt.mjs';
import { startBroker, clusterPorts, tmpDir } from './lib/broker.mjs';
import { clusterOk, shardSubs as shardSubsOn } from './lib/vcluster.mjs';
import { ctlAsync, stack, waitFor } from './lib/pd.mjs';
import { startNginx, sampleRoutes, spreadKeys } from './lib/nginx_cluster.mjs';
import { ticks, assertExact, assertMoved, metric } from './lib/recovery.mjs';

const w = world();
let ports, dir, url, key;

// The node (port) owning a key's or a shard channel's slot.
function owner(name) {
  const slot = Number(stack('redis-cli', '-p', String(ports[0]), 'cluster', 'keyslot', name).trim());
  const out = stack('redis-cli', '-p', String(ports[0]), 'cluster', 'slots').trim().split('\n').map((l) => l.trim());
  // CLUSTER SLOTS as redis-cli prints it: start, end, ip, port, id, ... per range
  for (let i = 0; i + 3 < out.length; i++) {
    if (/^\d+$/.test(out[i]) && /^\d+$/.test(out[i + 1]) && /^\d+\.\d+\.\d+\.\d+$/.test(out[i + 2])) {
      if (slot >= Number(out[i]) && slot <= Number(out[i + 1])) return Number(out[i + 3]);
    }
  }
  throw new Error(`no owner for slot ${slot} of ${name}`);
}

const shardSubs = (ch) => shardSubsOn(ports, ch);

// pushdeskctl emit, not blocking the sockets' event loop
const emit = (room, payload) => ctlAsync('emit', '--room', room, 'rec:tick', JSON.stringify(payload), {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded', PUSHDESK_ADAPTER_KEY: key },
  json: true,
});

const conf = (extra = {}) => brokerConfig({
  valkey_url: url, adapter_mode: 'sharded', adapter_key: key, presence_ttl: 4, lease_ttl: 2, ...extra,
});

before(async () => {
  ports = await clusterPorts();
  dir = tmpDir('pd-vcluster-shrec-');
  stack('pd_start_vcluster', dir, ...ports);
  url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
  // an adapter key whose org channel is not on the stream's node, so that
  // restarting the channel's node leaves the stream up
  const stream = owner(`k:{recovery}:events:/`);
  for (let i = 0; i < 64 && !key; i++) {
    if (owner(`pdsr${i}#/#org:${w.org.id ?? w.org}#`) !== stream) key = `pdsr${i}`;
  }
  assert.ok(key, 'an adapter key with the org channel off the stream node');
});

after(() => {
  closeAll();
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

test('sharded: the master owning a room channel restarts mid-traffic; every emit reaches both brokers\' members once, in order', T, async (tc) => {
  const [A, B] = await Promise.all([startBroker({ config: conf() }), startBroker({ config: conf() })]);
  try {
    const org = w.org.id ?? w.org;
    const room = `org:${org}`;
    const ch = `${key}#/#${room}#`;
    const run = `restart-${Date.now()}`;
    const [sa, sb] = [client(w.user('agent'), { url: A.url }), client(w.user('agent'), { url: B.url })];
    for (const s of [sa, sb]) assert.ok((await outcome(s)).ok, 'connected');
    const [ta, tb] = [ticks(sa, run), ticks(sb, run)];
    await waitFor(() => shardSubs(ch) === 2, { timeout: 15000, what: `both brokers on ${ch}` });
    const victim = owner(ch);
    assert.notEqual(victim, owner(`${key}:{recovery}:events:/`), 'the stream stays up');
    const caught0 = (await metric(A.adminUrl, 'recovery_caught_up_total')) + (await metric(B.adminUrl, 'recovery_caught_up_total'));
    let n = 0;
    let failed = 0;
    let stop = false;
    const pub = (async () => {
      while (!stop) {
        try { await emit(room, { run, n }); n++; } catch { failed++; }
        await sleep(50);
      }
    })();
    await sleep(800);
    stack('pd_stop_vcluster_node', dir, String(victim));
    await sleep(1500);
    stack('pd_start_vcluster_node', dir, String(victim));
    await clusterOk(victim, 'the restarted node back in the cluster');
    await waitFor(() => shardSubs(ch) === 2, { timeout: 20000, what: 'both brokers subscribed again on the restarted node' });
    await sleep(800);
    stop = true;
    await pub;
    await waitFor(() => ta.got.length >= n && tb.got.length >= n, { timeout: 15000, what: `${n} ticks each` }).catch(() => {});
    await sleep(300);
    try {
      assertExact(ta.got, n, 'member on A');
      assertExact(tb.got, n, 'member on B');
    } catch (e) { // what the brokers said about Valkey
      for (const b of [A, B]) {
        for (const l of b.log.split('\n').filter((x) => /recovery|shard|valkey/.test(x)).slice(-30)) tc.diagnostic(l);
      }
      throw e;
    }
    const caught = (await metric(A.adminUrl, 'recovery_caught_up_total')) + (await metric(B.adminUrl, 'recovery_caught_up_total')) - caught0;
    tc.diagnostic(`restarted ${victim}: ${n} emits done (${failed} refused), ${caught} delivered from the stream after the resubscription`);
    assert.ok(caught > 0, 'emits made while the channel\'s node was down came from the stream');
  } finally {
    await Promise.all([A.stop(), B.stop()]);
  }
});

test('sharded: kill -9 of a broker; its clients are recovered on the other, which held none of their rooms', T, async (tc) => {
  const confs = sampleRoutes().map((r) => conf({ broker_route: r }));
  const [A, B] = await Promise.all(confs.map((config) => startBroker({ config })));
  const ngx = await startNginx([`127.0.0.1:${A.port}`, `127.0.0.1:${B.port}`]);
  try {
    const run = `kill-${Date.now()}`;
    const users = Array.from({ length: 8 }, () => w.user('agent'));
    const keys = await spreadKeys(ngx, 8); // four clients on each broker
    const socks = users.map((u, i) => {
      const s = client(u, {
        url: ngx.url, extraHeaders: { cookie: `pushdesk_route=${keys[i]}` },
        reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500,
      });
      s.t = ticks(s, run);
      return s;
    });
    for (const s of socks) assert.ok((await outcome(s)).ok, 'connected');
    const ids = socks.map((s) => s.id);
    // one emit per user to its own room, round robin
    const sent = users.map(() => 0);
    let stop = false;
    const pub = (async () => {
      while (!stop) {
        for (const [i, u] of users.entries()) {
          try { await emit(`user:${u.id}`, { run, n: sent[i] }); sent[i]++; } catch { /* counted as not sent */ }
        }
        await sleep(20);
      }
    })();
    await waitFor(() => socks.every((s) => s.t.got.length >= 3), { timeout: 20000, what: '3 ticks each' });
    B.proc.kill('SIGKILL');
    await B.exitP;
    await sleep(1500);
    await waitFor(() => socks.every((s) => s.connected), { timeout: 20000, what: 'every client connected again' });
    await sleep(1500);
    stop = true;
    await pub;
    await waitFor(() => socks.every((s, i) => s.t.got.length >= sent[i]), { timeout: 15000, what: 'every tick' }).catch(() => {});
    await sleep(300);
    const moved = assertMoved(socks, ids, sent);
    tc.diagnostic(`${moved.length} of ${socks.length} moved; ${sent.reduce((a, b) => a + b, 0)} emits`);
  } finally {
    await Promise.all([ngx.stop(), A.stop(), B.exited ? null : B.stop()]);
  }
});
