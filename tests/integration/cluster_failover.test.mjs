// Issue 5: a broker that dies takes its users offline within presence_ttl,
// announced once; a Valkey outage loses nothing published after it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startClusterBroker, waitValkeyUp, connectClient, seen, until, uid, newOrg, emitter, redisClient, sleep,
} from './lib/cluster.mjs';

const closers = [];
after(async () => { for (const f of closers.reverse()) { try { await f(); } catch { /* */ } } });

test('kill -9 a broker: its users go offline within presence_ttl, once', async () => {
  const r = await startRedis();
  closers.push(() => r.stop());
  const ttl = 4;
  const conf = { presence_ttl: ttl, lease_ttl: 2 };
  const a = await startClusterBroker(r, conf);
  const b = await startClusterBroker(r, conf);
  const c = await startClusterBroker(r, conf);
  closers.push(() => a.stop(), () => b.stop(), () => c.stop());
  await Promise.all([waitValkeyUp(a), waitValkeyUp(b), waitValkeyUp(c)]);
  const org = newOrg();
  const wa = await connectClient(a, { sub: uid('watch-a'), org });
  const wc = await connectClient(c, { sub: uid('watch-c'), org });
  closers.push(() => wa.close(), () => wc.close());
  const victims = [];
  for (const u of ['v1', 'v2', 'v3']) victims.push(await connectClient(b, { sub: uid(u), org }));
  // v3 also connected on a: stays online
  const v3a = await connectClient(a, { sub: uid('v3'), org });
  closers.push(() => v3a.close());
  await until(() => ['v1', 'v2', 'v3'].every((u) => seen(wa, 'user:online').includes(uid(u))), 5000, 'online');
  const rc = await redisClient(r);
  closers.push(() => rc.disconnect());
  const h = await rc.hGetAll(`socket.io:{presence}:${uid('v1')}`);
  assert.equal(h.status, 'online');
  assert.ok(Number(h.lastSeen) > 0);

  const t0 = Date.now();
  b.proc.kill('SIGKILL');
  await until(() => ['v1', 'v2'].every((u) => seen(wa, 'user:offline').includes(uid(u))
    && seen(wc, 'user:offline').includes(uid(u))), (ttl + 3) * 1000, 'user:offline after the crash');
  const took = Date.now() - t0;
  assert.ok(took <= ttl * 1000 + 1500, `offline after ${took} ms (presence_ttl ${ttl} s)`);
  await sleep(ttl * 1000); // any duplicate would come by now
  for (const w of [wa, wc]) {
    for (const u of ['v1', 'v2']) assert.equal(seen(w, 'user:offline').filter((x) => x === uid(u)).length, 1, `${u} offline once`);
    assert.equal(seen(w, 'user:offline').filter((x) => x === uid('v3')).length, 0, 'v3 still connected on a');
  }
  assert.equal((await rc.hGetAll(`socket.io:{presence}:${uid('v1')}`)).status, 'offline');
  // the dead broker's lease is gone from the live set
  const live = await rc.zRangeByScore('socket.io:{brokers}', Date.now(), '+inf');
  assert.equal(live.length, 2);
});

test('clients connected through a Valkey restart get every later event', async () => {
  const r = await startRedis();
  closers.push(() => r.stop());
  const a = await startClusterBroker(r);
  const b = await startClusterBroker(r);
  closers.push(() => a.stop(), () => b.stop());
  await Promise.all([waitValkeyUp(a), waitValkeyUp(b)]);
  const org = newOrg();
  const ca = await connectClient(a, { sub: uid('ra'), org });
  const cb = await connectClient(b, { sub: uid('rb'), org });
  closers.push(() => ca.close(), () => cb.close());

  await r.stop();
  await sleep(1000);
  await r.start();
  assert.ok(ca.connected && cb.connected, 'clients kept their connections');
  // wait until both brokers are subscribed again: probe until a probe lands
  let e = await emitter(r);
  closers.push(() => e.close());
  let k = 0;
  await until(() => {
    e.to(`org:${org}`).emit('probe', k++);
    return seen(ca, 'probe').length > 0 && seen(cb, 'probe').length > 0;
  }, 15000, 'brokers back on Valkey');
  const n0a = seen(ca, 'tick').length, n0b = seen(cb, 'tick').length;
  assert.equal(n0a + n0b, 0);
  for (let i = 0; i < 50; i++) e.to(`org:${org}`).emit('tick', i);
  await until(() => seen(ca, 'tick').length === 50 && seen(cb, 'tick').length === 50, 5000, 'all 50 ticks');
  assert.deepEqual(seen(ca, 'tick'), [...Array(50).keys()]);
  assert.deepEqual(seen(cb, 'tick'), [...Array(50).keys()]);
  // and between brokers: a user:online from b reaches a's client
  const late = await connectClient(b, { sub: uid('late'), org });
  closers.push(() => late.close());
  await until(() => seen(ca, 'user:online').includes(uid('late')), 5000, 'user:online across brokers after the restart');
});
