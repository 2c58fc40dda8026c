// adapter_mode = sharded on a 3-master Valkey Cluster: a room's shard
// channel whose slot moves to another master while events flow (CLUSTER
// SETSLOT IMPORTING/MIGRATING, then NODE on the new owner, the old one and
// the third, as redis-cli --cluster does for one slot). Redis 7 keeps
// serving the slot's SSUBSCRIBE and SPUBLISH on the old owner during the
// window (no ASK), then ends the subscriptions there ("sunsubscribe"
// pushes); the brokers must subscribe again on the new owner at once.
// Checked with real socket.io-client sockets on two brokers and a
// publisher running on its own: every event reaches every member once and
// in order, those of the window too (a member joined in the window as
// well), those emitted in the moment the slot changes hands included: the
// old owner drops them, the brokers read them back from the recovery
// stream (connection state recovery is on, as by default); SHARDNUMSUB then
// shows the brokers on the new owner only.
// And SETSLOT NODE given to the old owner first (the two then answer MOVED
// to each other): the brokers do not ping-pong between them.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, open, closeAll, ack, mark, next, seen, assertOkAck, sleep,
} from './lib/rt.mjs';
import { withTimeout } from './lib/broker.mjs';
import { metric, shardedPair } from './lib/vcluster.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';

const w = world();
let A, B, ports, dir, url;

const cli = (p, ...args) => stack('redis-cli', '-p', String(p), ...args.map(String)).trim();
const sharded = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
});
const subsOn = (p, ch) => Number(cli(p, 'pubsub', 'shardnumsub', ch).split('\n')[1] || 0);

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
// MOVED) after the other, from a shell loop of its own: they go on while
// this process is busy moving the slot. published holds the numbers
// Valkey accepted, in order; span[i] when emit i ran [start, end] (ms, the
// clock of Date.now).
function traffic(room, ev) {
  const published = [], span = {};
  let failed = 0, buf = '';
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PUSHDESK_')));
  Object.assign(e, { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' });
  const stopFile = path.join(dir, `stop-${ev}`);
  const loop = 'i=0; while [ ! -e "$4" ]; do i=$((i+1)); ' +
    't0=$EPOCHREALTIME; if "$0" --config "$1" --json emit --room "$2" "$3" "$i" >/dev/null 2>&1; ' +
    'then echo "ok $i $t0 $EPOCHREALTIME"; else echo "no $i"; fi; done';
  const p = spawn('bash', ['-c', loop, `${env.build}/cli/pushdeskctl`, env.conf, room, ev, stopFile],
    { env: e, stdio: ['ignore', 'pipe', 'inherit'] });
  p.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) {
      const [k, i, t0, t1] = l.split(' ');
      if (k !== 'ok') { failed++; continue; }
      published.push(Number(i));
      span[i] = [Number(t0) * 1000, Number(t1) * 1000];
    }
  });
  const exited = new Promise((r) => p.on('close', r)); // stdout read to its end
  return {
    published,
    span,
    get failed() { return failed; },
    stop: async () => { // after the emit in flight, which is counted
      writeFileSync(stopFile, '');
      await withTimeout(exited, 30000, 'the end of the emits');
    },
  };
}

// got: the numbers of tr's events a member received. They must come once
// each and in order, with every event that started after `from` except
// those that ran while a slot was changing hands (the gaps, [a, b] ms):
// between the new owner taking the slot and the brokers' SSUBSCRIBE there
// an SPUBLISH may find nobody (Redis pub/sub is at most once). Returns
// how many of those were lost.
function check(who, got, tr, { from = -Infinity, gaps = [] } = {}) {
  const all = tr.published;
  const pos = new Map(all.map((n, k) => [n, k]));
  for (const [k, n] of got.entries()) {
    assert.ok(pos.has(n), `${who}: event ${n} was published`);
    if (k > 0) assert.ok(pos.get(n) > pos.get(got[k - 1]), `${who}: ${n} after ${got[k - 1]}: once each, in order`);
  }
  const have = new Set(got);
  let lost = 0;
  for (const n of all) {
    const [t0, t1] = tr.span[n];
    if (t0 <= from || have.has(n)) continue;
    const inGap = gaps.some(([a, b]) => t1 >= a && t0 <= b);
    assert.ok(inGap, `${who}: event ${n} (emitted ${t0.toFixed(1)}..${t1.toFixed(1)}) is missing; gaps ${JSON.stringify(gaps)}`);
    lost++;
  }
  return lost;
}

const more = (tr, k, what) => {
  const at = tr.published.length;
  return waitFor(() => tr.published.length >= at + k, { timeout: 20000, interval: 20, what });
};

// A new ticket's room with a member on A and one on B, once both brokers
// are subscribed to its channel at the slot's owner (src).
async function roomOnBoth() {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const room = `ticket:${t.id}`;
  const ch = `socket.io#/#${room}#`;
  const socks = [await open(c, { url: A.url }), await open(w.agent, { url: B.url })];
  for (const s of socks) assertOkAck(await ack(s, 'ticket:join', t.id));
  const slot = Number(cli(ports[0], 'cluster', 'keyslot', ch));
  const src = owner(slot);
  await waitFor(() => subsOn(src, ch) === 2, { timeout: 10000, what: `both brokers on ${ch}` });
  return { room, ch, socks, slot, src };
}

before(async () => {
  ({ ports, dir, url, A, B } = await shardedPair('pd-vcluster-mig-'));
});

after(async () => {
  closeAll();
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
  // these brokers' logs are not the harness's: a sanitizer build's reports
  for (const b of [A, B]) assert.doesNotMatch(b ? b.log : '', /Sanitizer|runtime error:/, 'a sanitizer report');
});

test('a room\'s slot moves to another master mid-traffic: every member gets every event once, in order (but in the handover)', T, async (tc) => {
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
    await waitFor(() => subsOn(src, ch) === 2, { timeout: 10000, interval: 50, what: `B's SSUBSCRIBE at ${src} during the window` });
    const bFrom = Date.now(); // B has every event from here on
    const marksB = onB.map((s) => mark(s));
    // one publish here by hand: the old owner takes it, both brokers get it
    const one = sharded('emit', '--room', room, 'mig:window', '{"w":1}');
    assert.equal(one.servers, 2, 'SPUBLISH during the window reached both brokers');
    await more(tr, 5, 'events during the window');
    assert.ok(cli(src, 'cluster', 'nodes').includes(`[${slot}->-${dstId}]`), 'still migrating');
    const atMove = tr.published.length;
    // the move: the new owner first (no ping-pong), the old one, the third
    const gap = [Date.now()];
    for (const p of [dst, src, third]) assert.equal(cli(p, 'cluster', 'setslot', slot, 'node', dstId), 'OK');
    await waitFor(() => subsOn(dst, ch) === 2 && subsOn(src, ch) === 0,
      { timeout: 15000, interval: 20, what: `both brokers subscribed to ${ch} at the new owner ${dst}` });
    gap.push(Date.now());
    await more(tr, 10, 'events after the move');
    await tr.stop();
    assert.equal(owner(slot), dst, 'the slot moved');
    const all = tr.published;
    const last = all[all.length - 1]; // emitted after the move: everyone has it
    const nums = (s) => seen(s, 'mig:n').map(Number);
    await waitFor(() => [...onA, ...onB].every((s) => nums(s).includes(last)), { timeout: 15000, what: `event ${last} on every member` });
    const lost = [...onA.map((s) => check(`${s.user.role} on A`, nums(s), tr, { gaps: [gap] })),
      ...onB.map((s) => check(`${s.user.role} on B`, nums(s), tr, { from: bFrom, gaps: [gap] }))];
    tc.diagnostic(`slot ${slot} ${src} -> ${dst}: ${all.length} events (${all.length - inWindow} from the window on, ` +
      `${all.length - atMove} from the move on), ${tr.failed} emits refused; lost in the ` +
      `${(gap[1] - gap[0]).toFixed(0)} ms the slot changed hands: ${lost.join(' ')}`);
    assert.deepEqual(lost, lost.map(() => 0), 'nothing lost in the handover (read back from the stream)');
    // B got the window's events: its subscription made there moved too
    for (const s of onB) assert.ok(nums(s).some((n) => all.indexOf(n) < atMove), `${s.user.role} on B got events of the window`);
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

test('the slot moved twice at once (no pause in the window) mid-traffic: the brokers follow it, nothing twice', T, async (tc) => {
  const { room, ch, socks, slot, src } = await roomOnBoth();
  const tr = traffic(room, 'mig:b');
  try {
    let at = src;
    const gaps = [];
    for (const to of ports.filter((p) => p !== src)) {
      await more(tr, 5, `events on ${at}`);
      const [fromId, toId] = [cli(at, 'cluster', 'myid'), cli(to, 'cluster', 'myid')];
      const gap = [Date.now()];
      cli(to, 'cluster', 'setslot', slot, 'importing', fromId);
      cli(at, 'cluster', 'setslot', slot, 'migrating', toId);
      for (const p of [to, at, ...ports.filter((x) => x !== to && x !== at)]) cli(p, 'cluster', 'setslot', slot, 'node', toId);
      await waitFor(() => subsOn(to, ch) === 2 && subsOn(at, ch) === 0,
        { timeout: 15000, interval: 20, what: `both brokers at ${to}` });
      gaps.push([...gap, Date.now()]);
      at = to;
    }
    await more(tr, 10, 'events after the moves');
    await tr.stop();
    const all = tr.published;
    const last = all[all.length - 1];
    const nums = (s) => seen(s, 'mig:b').map(Number);
    await waitFor(() => socks.every((s) => nums(s).includes(last)), { timeout: 15000, what: `event ${last} on both members` });
    const lost = socks.map((s) => check(s.user.role, nums(s), tr, { gaps }));
    tc.diagnostic(`slot ${slot} moved twice from ${src} to ${at}: ${all.length} events, ${tr.failed} refused; ` +
      `lost while it changed hands (${gaps.map(([a, b]) => (b - a).toFixed(0)).join(', ')} ms): ${lost.join(' ')}`);
    assert.deepEqual(lost, lost.map(() => 0), 'nothing lost in the handovers (read back from the stream)');
  } finally {
    await tr.stop();
  }
});

test('SETSLOT NODE on the old owner before the new one: no MOVED ping-pong, the brokers follow once the new owner has the slot', T, async (tc) => {
  const { room, ch, socks, slot, src } = await roomOnBoth();
  const [dst, third] = ports.filter((p) => p !== src);
  const [srcId, dstId] = [cli(src, 'cluster', 'myid'), cli(dst, 'cluster', 'myid')];
  // MOVED answers given (INFO errorstats; a refused command is not in commandstats)
  const moved = () => [src, dst].reduce((n, p) => n + Number((/errorstat_MOVED:count=(\d+)/.exec(cli(p, 'info', 'errorstats')) || [0, 0])[1]), 0);
  cli(dst, 'cluster', 'setslot', slot, 'importing', srcId);
  cli(src, 'cluster', 'setslot', slot, 'migrating', dstId);
  const m0 = moved();
  // the old owner lets go first: it ends the subscriptions and says MOVED
  // to the new owner, which (still importing) says MOVED back
  cli(src, 'cluster', 'setslot', slot, 'node', dstId);
  await sleep(2000);
  const spent = moved() - m0;
  tc.diagnostic(`slot ${slot}: ${spent} MOVED from ${src} and ${dst} in 2 s while they disagreed`);
  // a redirect loop would be thousands; the brokers retry every 500 ms
  assert.ok(spent < 300, `${spent} MOVED in 2 s: a ping-pong`);
  for (const p of [dst, third]) cli(p, 'cluster', 'setslot', slot, 'node', dstId);
  await waitFor(() => subsOn(dst, ch) === 2 && subsOn(src, ch) === 0,
    { timeout: 15000, interval: 50, what: `both brokers at ${dst} once it has the slot` });
  const marks = socks.map((s) => mark(s));
  assert.equal(sharded('emit', '--room', room, 'mig:after', '{"a":1}').servers, 2);
  for (const [i, s] of socks.entries()) await next(s, 'mig:after', (x) => x.a === 1, { since: marks[i] });
});
