// pushdesk on a 3-master Valkey Cluster (issue 14), classic adapter mode:
// two brokers started here on a cluster started by tests/lib/stack.sh
// (pd_start_vcluster, three redis-server 7 masters on loopback), valkey_url
// naming two of the three nodes as seeds. Checked: an event crosses brokers
// (PUBLISH on any node reaches the PSUBSCRIBEs of every node); the brokers'
// presence and lease scripts run on the node of their hash-tagged slot
// (the seed redirects with MOVED); pushdeskctl emit/online/stats on the
// cluster; and a master restarted mid-traffic.
//
// What a restart loses, measured here: the restarted master comes back
// empty (no persistence, as the single redis-server of the stack), so the
// keys of its slots are gone until the brokers write them again (presence
// on their next refresh, leases on the next renewal); pub/sub messages
// published while a broker's connections were down are lost, as with one
// Valkey. Nothing else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, must, open, closeAll, ack, mark, next, assertOkAck, brokerConfig, sleep,
} from './lib/rt.mjs';
import { startBroker, clusterPorts, tmpDir } from './lib/broker.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';
import { clusterOk, restartMidTraffic, restartApi, restartApiOn } from './lib/vcluster.mjs';

const w = world();
let A, B, ports, dir, url;

const onA = (u) => open(u, { url: A.url });
const onB = (u) => open(u, { url: B.url });
// Recovery off for pushdeskctl here: PUBLISH counts the subscribers of the
// node it runs on, and with recovery the publish runs in a script on the
// node of the {recovery} slot, not on the seed the brokers subscribe
// through, so `servers` would not count them.
const onCluster = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_RECOVERY_WINDOW: '0' }, json: true,
});

// Emit ev to the org through the cluster until both brokers count as its
// receivers and both sockets got it.
async function reachBoth(ev, [s1, s2], what) {
  const [m1, m2] = [mark(s1), mark(s2)];
  const n = await waitFor(() => {
    try {
      const r = onCluster('emit', '--room', `org:${w.org}`, ev, '{}');
      return r.servers === 2 ? r : null;
    } catch { return null; }
  }, { timeout: 30000, what });
  assert.equal(n.servers, 2);
  await next(s1, ev, () => true, { since: m1 });
  await next(s2, ev, () => true, { since: m2 });
}

async function valkeyUps(b) {
  return (b.log.match(/valkey up/g) || []).length;
}

before(async () => {
  ports = await clusterPorts();
  dir = tmpDir('pd-vcluster-');
  stack('pd_start_vcluster', dir, ...ports);
  url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
  const conf = brokerConfig({ valkey_url: url, presence_ttl: 4, lease_ttl: 2 });
  [A, B] = await Promise.all([startBroker({ config: conf }), startBroker({ config: conf })]);
  await waitFor(async () => (await valkeyUps(A)) > 0 && (await valkeyUps(B)) > 0,
    { timeout: 15000, what: 'both brokers on the cluster' });
});

let apiOnCluster = false;

after(async () => {
  closeAll();
  if (apiOnCluster) {
    try { restartApi(env.conf); } catch { /* the harness heals the stack */ }
  }
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

test('the cluster has three masters and the brokers\' keys are on more than the seed', T, async () => {
  const slots = stack('redis-cli', '-p', String(ports[0]), 'cluster', 'shards');
  assert.equal((slots.match(/master/g) || []).length, 3, slots);
  // the lease keys live on the node of the {brokers} slot, wherever it is
  const live = await waitFor(() => {
    const s = onCluster('stats');
    return s.brokers.length === 2 ? s : null;
  }, { timeout: 15000, what: 'two leases read through the cluster' });
  assert.equal(live.total.brokers, 2);
});

test('message:send on A reaches the agent on B through the cluster', T, async () => {
  const c = w.user('customer');
  const t = await mkTicket(c);
  const [cs, ag] = await Promise.all([onA(c), onB(w.agent)]);
  assertOkAck(await ack(cs, 'ticket:join', t.id));
  assertOkAck(await ack(ag, 'ticket:join', t.id));
  const m = mark(ag);
  const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'across a cluster' });
  assertOkAck(r);
  assert.equal(r.delivered, true, 'the agent in ticket:<id> is connected to B');
  const e = await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m });
  assert.equal(e.content, 'across a cluster');
});

test('presence across brokers; pushdeskctl online and emit on the cluster', T, async () => {
  const a1 = w.user('agent'), a2 = w.user('agent');
  const [s1, s2] = await Promise.all([onA(a1), onB(a2)]);
  const on = await waitFor(() => {
    const l = onCluster('online', '--org', w.org);
    const ids = l.map((x) => x.userId);
    return ids.includes(a1.id) && ids.includes(a2.id) ? l : null;
  }, { timeout: 15000, what: 'both agents online in the cluster' });
  assert.ok(on.every((x) => x.org === w.org));
  await reachBoth('vc:ping', [s1, s2], 'the brokers\' PSUBSCRIBEs on the cluster each got it');
});

test('a master restarted mid-traffic: the brokers come back and events flow again', T, async (tc) => {
  const [s1, s2] = await Promise.all([onA(w.user('agent')), onB(w.user('agent'))]);
  // the master of the {presence} slot: the one most of the brokers' writes go to
  const slot = Number(stack('redis-cli', '-p', String(ports[0]), 'cluster', 'keyslot', 'x:{presence}:y').trim());
  const moved = /MOVED \d+ [^:\s]*:(\d+)/.exec(stack('redis-cli', '-p', String(ports[0]), 'get', 'x:{presence}:y'));
  const victim = moved ? Number(moved[1]) : ports[0];
  const upsBefore = [await valkeyUps(A), await valkeyUps(B)];
  const sent = await restartMidTraffic(dir, victim, (i) => onCluster('emit', '--room', `org:${w.org}`, 'vc:tick', String(i)));
  await reachBoth('vc:after', [s1, s2], 'both brokers subscribed again');
  // presence is written again on the restarted master
  const back = await waitFor(() => {
    const l = onCluster('online', '--org', w.org);
    return l.length >= 2 ? l : null;
  }, { timeout: 20000, what: 'presence rewritten after the restart' });
  tc.diagnostic(`restarted node ${victim} (slot ${slot} of {presence}); ${sent} emits during; ` +
    `valkey up before ${upsBefore}, after ${[await valkeyUps(A), await valkeyUps(B)]}; ` +
    `${back.length} users online again`);
});

test('the API on the cluster: its outbox relay\'s events reach members on both brokers', T, async () => {
  // the stack's API with only valkey_url changed (its database, its socket)
  restartApiOn(dir, url);
  apiOnCluster = true;
  const c = w.user('customer');
  const t = await mkTicket(c);
  const [ag, ad] = await Promise.all([onA(w.agent), onB(w.admin)]);
  assertOkAck(await ack(ag, 'ticket:join', t.id));
  assertOkAck(await ack(ad, 'ticket:join', t.id));
  const ms = [mark(ag), mark(ad)];
  const posted = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'from the API' }, c);
  const e1 = await next(ag, 'message:new', (x) => x.id === posted.id, { since: ms[0] });
  const e2 = await next(ad, 'message:new', (x) => x.id === posted.id, { since: ms[1] });
  assert.equal(e1.content, 'from the API');
  assert.equal(e2.eventId, e1.eventId);
  // GET /presence reads the presence hashes on their node (a redirect); the
  // broker writes them after the CONNECT reply: polled, not read once
  let pres;
  const online = () => (pres.data || pres).find((x) => x.userId === w.agent.id && x.status !== 'offline');
  await waitFor(async () => {
    pres = await must(200, 'GET', `/presence?userIds=${w.agent.id}`, undefined, w.admin);
    return online();
  }, { timeout: 10_000, what: 'the agent online through the cluster' }).catch(() => {});
  assert.ok(online(), `agent online through the cluster: ${JSON.stringify(pres)}`);
});

test('the seed the brokers subscribe on restarted: they move to the other seed, events flow again', T, async (tc) => {
  const [s1, s2] = await Promise.all([onA(w.user('agent')), onB(w.user('agent'))]);
  const ups = [await valkeyUps(A), await valkeyUps(B)];
  stack('pd_stop_vcluster_node', dir, String(ports[0]));
  const t0 = Date.now();
  // while the first seed is down: the brokers reconnect through the second
  await reachBoth('vc:down', [s1, s2], 'both brokers subscribed through the second seed');
  const moved = Date.now() - t0;
  assert.ok(await valkeyUps(A) > ups[0] && await valkeyUps(B) > ups[1], 'each broker went down and up once more');
  stack('pd_start_vcluster_node', dir, String(ports[0]));
  await clusterOk(ports[0], 'the first seed back in the cluster');
  tc.diagnostic(`first seed ${ports[0]} stopped: both brokers delivering again through the second after ${moved} ms`);
});
