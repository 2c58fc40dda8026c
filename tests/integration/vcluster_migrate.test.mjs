// adapter_mode = sharded on a 3-master Valkey Cluster: a room's shard
// channel whose slot moves to another master while events flow (CLUSTER
// SETSLOT IMPORTING/MIGRATING, then NODE on the new owner, the old one and
// the third, as redis-cli --cluster does for one slot). Redis 7 keeps
// serving the slot's SSUBSCRIBE and SPUBLISH on the old owner during the
// window, then ends the subscriptions there ("sunsubscribe" pushes); the
// brokers must subscribe again on the new owner. Checked with real
// socket.io-client sockets on two brokers: every event published (before,
// during the window, after) reaches every member once and in order, a
// member joined during the window too, and SHARDNUMSUB shows the brokers
// on the new owner only.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, mkTicket, open, closeAll, ack, mark, seen, assertOkAck, brokerConfig } from './lib/rt.mjs';
import { startBroker, freePort, tmpDir } from './lib/broker.mjs';
import { metric } from './lib/vcluster.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';

const run = promisify(execFile);

const w = world();
let A, B, ports, dir, url;

const cli = (p, ...args) => stack('redis-cli', '-p', String(p), ...args.map(String)).trim();
const sharded = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
});
const subsOn = (p, ch) => Number(cli(p, 'pubsub', 'shardnumsub', ch).split('\n')[1] || 0);
const ups = (b) => (b.log.match(/valkey up/g) || []).length;

// The master serving slot, from its own CLUSTER NODES line.
function owner(slot) {
  for (const p of ports) {
    const me = cli(p, 'cluster', 'nodes').split('\n').find((l) => l.includes('myself'));
    for (const r of me.split(' ').slice(8)) {
      if (r.startsWith('[')) continue; // a migration in progress
      const [a, b = a] = r.split('-').map(Number);
      if (slot >= a && slot <= b) return p;
    }
  }
  return null;
}

// Numbered events to room, one pushdeskctl emit (SPUBLISH that follows
// MOVED) after the other in a process of its own, so that they run on
// while this process waits or moves the slot; published holds the numbers
// Valkey accepted, in order.
function traffic(room, ev) {
  const published = [];
  let n = 0, failed = 0, on = true;
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PUSHDESK_')));
  Object.assign(e, { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' });
  const argv = (i) => ['--config', env.conf, '--json', 'emit', '--room', room, ev, String(i)];
  const done = (async () => {
    while (on) {
      const i = ++n;
      try {
        await run(`${env.build}/cli/pushdeskctl`, argv(i), { env: e, timeout: 30000 });
        published.push(i);
      } catch { failed++; }
    }
  })();
  return { published, stop: async () => { on = false; await done; }, get failed() { return failed; } };
}

const more = (tr, k, what) => {
  const at = tr.published.length;
  return waitFor(() => tr.published.length >= at + k, { timeout: 20000, interval: 20, what });
};

before(async () => {
  ports = [await freePort(), await freePort(), await freePort()];
  dir = tmpDir('pd-vcluster-mig-');
  stack('pd_start_vcluster', dir, ...ports);
  url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
  const conf = brokerConfig({ valkey_url: url, adapter_mode: 'sharded', presence_ttl: 4, lease_ttl: 2 });
  [A, B] = await Promise.all([startBroker({ config: conf }), startBroker({ config: conf })]);
  await waitFor(() => ups(A) > 0 && ups(B) > 0, { timeout: 15000, what: 'both brokers on the cluster' });
});

after(async () => {
  closeAll();
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

test('a room\'s slot moves to another master mid-traffic: every member gets every event once, in order', T, async (tc) => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const room = `ticket:${t.id}`;
  const ch = `socket.io#/#${room}#`;
  const slot = Number(cli(ports[0], 'cluster', 'keyslot', ch));
  // two members on A from the start, two on B joined during the window
  const onA = [await open(c, { url: A.url }), await open(w.agent, { url: A.url })];
  for (const s of onA) assertOkAck(await ack(s, 'ticket:join', t.id));
  const src = owner(slot);
  assert.ok(src, `an owner of slot ${slot}`);
  await waitFor(() => subsOn(src, ch) === 1, { timeout: 10000, what: `A on ${ch} at ${src}` });
  const [dst, third] = ports.filter((p) => p !== src);
  const [srcId, dstId] = [cli(src, 'cluster', 'myid'), cli(dst, 'cluster', 'myid')];
  const moves0 = await metric(A, 'sharded_slot_moves_total');
  assert.ok(Number.isFinite(moves0), 'the slot-move counter is exposed');

  const tr = traffic(room, 'mig:n');
  try {
    await more(tr, 5, 'events before the migration');
    // the window: the old owner still serves the slot's pub/sub
    assert.equal(cli(dst, 'cluster', 'setslot', slot, 'importing', srcId), 'OK');
    assert.equal(cli(src, 'cluster', 'setslot', slot, 'migrating', dstId), 'OK');
    const inWindow = tr.published.length;
    const onB = [await open(w.agent2, { url: B.url }), await open(w.admin, { url: B.url })];
    for (const s of onB) assertOkAck(await ack(s, 'ticket:join', t.id));
    await waitFor(() => subsOn(src, ch) === 2, { timeout: 10000, what: `B's SSUBSCRIBE at ${src} during the window` });
    const bFrom = tr.published.length; // B has everything from here on
    const marksB = onB.map((s) => mark(s));
    // one publish here by hand: the old owner takes it, both brokers get it
    const one = sharded('emit', '--room', room, 'mig:window', '{"w":1}');
    assert.equal(one.servers, 2, 'SPUBLISH during the window reached both brokers');
    await more(tr, 5, 'events during the window');
    assert.ok(cli(src, 'cluster', 'nodes').includes(`[${slot}->-${dstId}]`), 'still migrating');
    const atMove = tr.published.length;
    // the move: the new owner first (no ping-pong), the old one, the third
    for (const p of [dst, src, third]) assert.equal(cli(p, 'cluster', 'setslot', slot, 'node', dstId), 'OK');
    await waitFor(() => subsOn(dst, ch) === 2 && subsOn(src, ch) === 0,
      { timeout: 15000, interval: 50, what: `both brokers subscribed to ${ch} at the new owner ${dst}` });
    const resubAt = tr.published.length;
    await more(tr, 10, 'events after the move');
    await tr.stop();
    assert.equal(owner(slot), dst, 'the slot moved');
    const all = tr.published;
    tc.diagnostic(`slot ${slot} ${src} -> ${dst}: ${all.length} events (${inWindow}..${atMove} in the window, ` +
      `${atMove}..${resubAt} until both brokers were on ${dst}), ${tr.failed} emits refused`);
    const nums = (s) => seen(s, 'mig:n').map(Number);
    await waitFor(() => onA.every((s) => nums(s).length >= all.length), { timeout: 15000, what: 'every event on A' });
    for (const s of onA) assert.deepEqual(nums(s), all, `${s.user.role} on A: every event once, in order`);
    // B's members: a suffix of the events, with every one since B subscribed
    await waitFor(() => onB.every((s) => nums(s).includes(all[all.length - 1])), { timeout: 15000, what: 'the last event on B' });
    for (const s of onB) {
      const got = nums(s);
      const first = all.indexOf(got[0]);
      assert.ok(first >= 0 && first <= bFrom, `${s.user.role} on B from event ${got[0]} (subscribed by ${all[bFrom]})`);
      assert.deepEqual(got, all.slice(first), `${s.user.role} on B: once, in order`);
    }
    for (const [i, s] of onB.entries()) {
      assert.deepEqual(seen(s, 'mig:window', () => true, marksB[i]), [{ w: 1 }]);
    }
    for (const s of onA) assert.deepEqual(seen(s, 'mig:window'), [{ w: 1 }]);
    // counted, once per broker at least
    assert.ok(await metric(A, 'sharded_slot_moves_total') > moves0, 'A counted the slot move');
    assert.ok(await metric(B, 'sharded_slot_moves_total') >= 1, 'B counted the slot move');
    assert.match(A.log, /shard channel slot moved/);
  } finally {
    await tr.stop();
  }
});

test('the slot moves back at once (no pause in the window) mid-traffic: nothing lost, nothing twice', T, async (tc) => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const room = `ticket:${t.id}`;
  const ch = `socket.io#/#${room}#`;
  const socks = [await open(c, { url: A.url }), await open(w.agent, { url: B.url })];
  for (const s of socks) assertOkAck(await ack(s, 'ticket:join', t.id));
  const slot = Number(cli(ports[0], 'cluster', 'keyslot', ch));
  const src = owner(slot);
  await waitFor(() => subsOn(src, ch) === 2, { timeout: 10000, what: `both brokers on ${ch}` });
  const tr = traffic(room, 'mig:b');
  try {
    let at = src;
    for (const to of ports.filter((p) => p !== src)) {
      await more(tr, 5, `events on ${at}`);
      const [fromId, toId] = [cli(at, 'cluster', 'myid'), cli(to, 'cluster', 'myid')];
      cli(to, 'cluster', 'setslot', slot, 'importing', fromId);
      cli(at, 'cluster', 'setslot', slot, 'migrating', toId);
      for (const p of [to, at, ...ports.filter((x) => x !== to && x !== at)]) cli(p, 'cluster', 'setslot', slot, 'node', toId);
      await waitFor(() => subsOn(to, ch) === 2 && subsOn(at, ch) === 0,
        { timeout: 15000, interval: 50, what: `both brokers at ${to}` });
      at = to;
    }
    await more(tr, 10, 'events after the moves');
    await tr.stop();
    const all = tr.published;
    tc.diagnostic(`slot ${slot} moved twice from ${src} to ${at}: ${all.length} events, ${tr.failed} refused`);
    const nums = (s) => seen(s, 'mig:b').map(Number);
    await waitFor(() => socks.every((s) => nums(s).length >= all.length), { timeout: 15000, what: 'every event' })
      .catch(() => { /* the comparison below says which */ });
    for (const s of socks) assert.deepEqual(nums(s), all, `${s.user.role}: every event once, in order`);
  } finally {
    await tr.stop();
  }
});
