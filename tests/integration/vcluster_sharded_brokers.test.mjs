// adapter_mode = sharded on a 3-master Valkey Cluster (issue 14): two
// brokers started here SSUBSCRIBE the namespace's channel, their own
// response channel and the channel of each room they have a member in, on
// the node that owns its slot. Checked: a room's message reaches members on
// both brokers exactly once; a broker with no member in a room has no
// subscription to it (PUBSUB SHARDNUMSUB) and receives none of its traffic
// (its /metrics); presence and cross-broker queries; the API's relay; a
// Node createShardedAdapter server in the same cluster both ways (its
// emits, its fetchSockets over our sockets); a master restarted
// mid-traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, must, open, closeAll, ack, mark, next, assertOkAck, brokerConfig, sleep,
} from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import {
  startShardedNode, got, restartMidTraffic, restartApi, restartApiOn, metric, shardSubs as shardSubsOn,
  shardedPair, valkeyUps,
} from './lib/vcluster.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';

const w = world();
let A, B, ports, dir, url, node;
let apiMoved = false;

const onA = (u) => open(u, { url: A.url });
const onB = (u) => open(u, { url: B.url });
const sharded = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
});

const shardSubs = (ch) => shardSubsOn(ports, ch);

const ups = valkeyUps;

before(async () => {
  ({ ports, dir, url, A, B } = await shardedPair('pd-vcluster-shb-'));
  // each broker's namespace channel, on its node
  await waitFor(() => shardSubs('socket.io#/#') >= 2, { timeout: 15000, what: 'both brokers SSUBSCRIBEd socket.io#/#' });
});

after(async () => {
  closeAll();
  if (apiMoved) {
    try { restartApi(env.conf); } catch { /* the harness heals the stack */ }
  }
  if (node) await node.stop();
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

test('a room across brokers: each member gets a message once; the room channel follows its members', T, async () => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const ch = `socket.io#/#ticket:${t.id}#`;
  const [cs, ag] = await Promise.all([onA(c), onB(w.agent)]);
  assertOkAck(await ack(cs, 'ticket:join', t.id));
  assertOkAck(await ack(ag, 'ticket:join', t.id));
  await waitFor(() => shardSubs(ch) === 2, { timeout: 10000, what: `two subscribers of ${ch}` });
  const [mc, ma] = [mark(cs), mark(ag)];
  const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'sharded across brokers' });
  assertOkAck(r);
  assert.equal(r.delivered, true, 'the agent on B counted through a sharded query');
  const e = await next(ag, 'message:new', (x) => x.id === r.message.id, { since: ma });
  assert.equal(e.content, 'sharded across brokers');
  await sleep(500);
  const count = (s, since) => s.log.slice(since).filter((x) => x.event === 'message:new' && x.args[0].id === r.message.id).length;
  assert.equal(count(ag, ma), 1, 'once on B');
  assert.equal(count(cs, mc), 1, 'once on A');
  // the agent leaves: B unsubscribes, A keeps the channel
  ag.disconnect();
  await waitFor(() => shardSubs(ch) === 1, { timeout: 10000, what: `B's SUNSUBSCRIBE of ${ch}` });
});

test('a broker with no member in a room receives none of its traffic', T, async (tc) => {
  const room = `org:${w.org}`;
  const s = await onA(w.user('agent'));
  const ch = `socket.io#/#${room}#`;
  // the previous test's agent on B was in the org room too: B lets go of
  // its channel after that disconnect, on the org channel's own node and
  // not necessarily before the ticket channel's (waited for there)
  await waitFor(() => shardSubs(ch) === 1, { timeout: 10000, what: `A alone on ${ch}` });
  assert.equal(shardSubs(ch), 1, 'only A subscribes the org room');
  const [a0, b0] = [await metric(A, 'sharded_messages_total'), await metric(B, 'sharded_messages_total')];
  assert.ok(Number.isFinite(a0) && Number.isFinite(b0), 'the sharded metrics are exposed');
  const m = mark(s);
  const N = 30;
  for (let i = 0; i < N; i++) sharded('emit', '--room', room, 'sh:quiet', String(i));
  await waitFor(() => s.log.slice(m).filter((x) => x.event === 'sh:quiet').length === N, { timeout: 15000, what: `${N} emits on A` });
  const [a1, b1] = [await metric(A, 'sharded_messages_total'), await metric(B, 'sharded_messages_total')];
  tc.diagnostic(`${N} emits to ${room}: A received ${a1 - a0} shard messages, B ${b1 - b0}`);
  assert.ok(a1 - a0 >= N, 'A got them all');
  assert.ok(b1 - b0 < 3, `B got ${b1 - b0} messages for a room it has nobody in`);
});

test('presence across brokers in sharded mode', T, async () => {
  const a1 = w.user('agent'), a2 = w.user('agent');
  const s1 = await onA(a1);
  const m = mark(s1);
  await onB(a2);
  // user:online of a2 (on B) to org:<org> reaches a1 on A
  await next(s1, 'user:online', (x) => x === a2.id, { since: m, ms: 15000 });
  const on = await waitFor(() => {
    const ids = sharded('online', '--org', w.org).map((x) => x.userId);
    return ids.includes(a1.id) && ids.includes(a2.id) ? ids : null;
  }, { timeout: 15000, what: 'both agents online' });
  assert.ok(on.length >= 2);
});

test('the API in sharded mode: the relay\'s message:new reaches members on both brokers', T, async () => {
  restartApiOn(dir, url, { adapter_mode: 'sharded' });
  apiMoved = true;
  const c = w.user('customer');
  const t = await mkTicket(c);
  const [ag, ad] = await Promise.all([onA(w.agent), onB(w.admin)]);
  assertOkAck(await ack(ag, 'ticket:join', t.id));
  assertOkAck(await ack(ad, 'ticket:join', t.id));
  await waitFor(() => shardSubs(`socket.io#/#ticket:${t.id}#`) === 2, { timeout: 10000, what: 'both on the ticket channel' });
  const ms = [mark(ag), mark(ad)];
  const posted = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'from the API, sharded' }, c);
  const e1 = await next(ag, 'message:new', (x) => x.id === posted.id, { since: ms[0] });
  const e2 = await next(ad, 'message:new', (x) => x.id === posted.id, { since: ms[1] });
  assert.equal(e1.content, 'from the API, sharded');
  assert.equal(e2.eventId, e1.eventId);
});

test('a Node createShardedAdapter server in the cluster, both ways', T, async () => {
  node = await startShardedNode(ports);
  const c = w.user('customer');
  const t = await mkTicket(c);
  const room = `ticket:${t.id}`;
  const cs = await onA(c);
  assertOkAck(await ack(cs, 'ticket:join', t.id));
  const nm = await node.member([room]);
  await waitFor(() => shardSubs(`socket.io#/#${room}#`) === 2, { timeout: 10000, what: 'A and the Node server on the room' });
  // broker -> Node: the broker's own emit (message:new of message:send)
  const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'to node' });
  assertOkAck(r);
  await waitFor(() => got(nm, 'message:new').some((x) => x.id === r.message.id), { timeout: 10000, what: 'message:new on the Node server' });
  // Node -> broker: one room (its channel) and two rooms (the namespace's)
  const m = mark(cs);
  node.io.to(room).emit('node:one', { n: 1 });
  node.io.to([room, 'elsewhere']).emit('node:two', { n: 2 });
  await next(cs, 'node:one', (x) => x.n === 1, { since: m });
  await next(cs, 'node:two', (x) => x.n === 2, { since: m });
  // the Node server's fetchSockets asks the brokers (FETCH_SOCKETS)
  const socks = await node.io.in(room).fetchSockets();
  assert.equal(socks.length, 2, `the Node member and the broker's: ${JSON.stringify(socks.map((s) => s.id))}`);
  // serverCount: the brokers and the Node server subscribe the namespace's channel
  assert.ok(await node.io.of('/').adapter.serverCount() >= 3);
  // a broadcast with acks: the brokers answer its client count (0: they
  // collect no acks), so the Node server gets its own member's ack at once
  nm.on('node:ack', (x, cb) => cb(`ack ${x}`));
  const m2 = mark(cs);
  const t0 = Date.now();
  const acks = await node.io.to(room).timeout(4000).emitWithAck('node:ack', 7);
  assert.deepEqual(acks, ['ack 7']);
  assert.ok(Date.now() - t0 < 3000, 'not by the timeout');
  await next(cs, 'node:ack', (x) => x === 7, { since: m2 });
});

test('a master restarted mid-traffic: room channels are subscribed again and events flow', T, async (tc) => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const [cs, ag] = await Promise.all([onA(c), onB(w.agent)]);
  assertOkAck(await ack(cs, 'ticket:join', t.id));
  assertOkAck(await ack(ag, 'ticket:join', t.id));
  const ch = `socket.io#/#ticket:${t.id}#`;
  await waitFor(() => shardSubs(ch) === 2, { timeout: 10000, what: 'both on the room channel' });
  const slot = Number(stack('redis-cli', '-p', String(ports[0]), 'cluster', 'keyslot', ch).trim());
  let victim = null;
  for (const p of ports) {
    const out = stack('redis-cli', '-p', String(p), 'pubsub', 'shardnumsub', ch).trim().split('\n');
    if (Number(out[1] || 0) > 0) victim = p;
  }
  assert.ok(victim, 'the node owning the room channel');
  const sent = await restartMidTraffic(dir, victim, (i) => sharded('emit', '--room', `ticket:${t.id}`, 'sh:tick', String(i)));
  await waitFor(() => shardSubs(ch) === 2, { timeout: 20000, what: 'both brokers subscribed again on the restarted node' });
  const [m1, m2] = [mark(cs), mark(ag)];
  await waitFor(() => { try { return sharded('emit', '--room', `ticket:${t.id}`, 'sh:after', '{}').servers === 2; } catch { return false; } },
    { timeout: 20000, what: 'two subscribers reached' });
  await next(cs, 'sh:after', () => true, { since: m1 });
  await next(ag, 'sh:after', () => true, { since: m2 });
  tc.diagnostic(`restarted node ${victim} (slot ${slot}); ${sent} emits during the restart`);
});

test('sharded mode on one Valkey (no cluster): SSUBSCRIBE on it, a room across two brokers', T, async () => {
  // the stack's own redis-server, under a key of its own
  const key = 'pdshard1';
  const conf = brokerConfig({ valkey_url: env.redisUrl, adapter_mode: 'sharded', adapter_key: key, presence_ttl: 4, lease_ttl: 2 });
  const [C, D] = await Promise.all([startBroker({ config: conf }), startBroker({ config: conf })]);
  try {
    await waitFor(() => ups(C) > 0 && ups(D) > 0, { timeout: 15000, what: 'both brokers on the stack\'s Valkey' });
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [cs, ag] = await Promise.all([open(c, { url: C.url }), open(w.agent, { url: D.url })]);
    assertOkAck(await ack(cs, 'ticket:join', t.id));
    assertOkAck(await ack(ag, 'ticket:join', t.id));
    const subs = () => Number(stack('redis-cli', '-p', String(env.redisPort), 'pubsub', 'shardnumsub', `${key}#/#ticket:${t.id}#`).trim().split('\n')[1]);
    await waitFor(() => subs() === 2, { timeout: 10000, what: 'both brokers on the room channel' });
    const ma = mark(ag);
    const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'one Valkey, sharded' });
    assertOkAck(r);
    assert.equal(r.delivered, true);
    await next(ag, 'message:new', (x) => x.id === r.message.id, { since: ma });
    ag.disconnect();
    await waitFor(() => subs() === 1, { timeout: 10000, what: 'D unsubscribed' });
  } finally {
    await Promise.all([C.stop(), D.stop()]);
  }
});
