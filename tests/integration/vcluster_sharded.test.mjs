// adapter_mode = sharded on a 3-master Valkey Cluster (issue 14): a Node
// socket.io server with @socket.io/redis-adapter's createShardedAdapter
// (subscriptionMode "dynamic", node-redis cluster clients) receives what
// pushdeskctl emit and the API's outbox relay SPUBLISH: one room on that
// room's own channel (its node only), several rooms on the namespace's.
// The brokers in sharded mode: vcluster_sharded_brokers.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, world, mkTicket, must } from './lib/rt.mjs';
import { clusterPorts, tmpDir } from './lib/broker.mjs';
import { startShardedNode, got, restartApi, restartApiOn } from './lib/vcluster.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';

const w = world();
let ports, dir, url, node;
let apiMoved = false;

const sharded = (...args) => ctl(...args, {
  env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
});

before(async () => {
  ports = await clusterPorts();
  dir = tmpDir('pd-vcluster-sh-');
  stack('pd_start_vcluster', dir, ...ports);
  url = `redis://127.0.0.1:${ports[0]}`; // one seed: the rest is found by MOVED
  node = await startShardedNode(ports);
});

after(async () => {
  if (apiMoved) {
    try { restartApi(env.conf); } catch { /* the harness heals the stack */ }
  }
  if (node) await node.stop();
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

test('pushdeskctl emit in sharded mode reaches a createShardedAdapter server, room by room', T, async () => {
  const inR1 = await node.member(['r1']), inR2 = await node.member(['r2']), none = await node.member([]);
  // the room's channel and the slot that carries it: SPUBLISH went to its node
  const one = await waitFor(() => {
    const n = sharded('emit', '--room', 'r1', 'sh:one', '{"k":"v"}');
    return n.servers >= 1 ? n : null;
  }, { timeout: 10000, what: 'the Node server subscribed to socket.io#/#r1#' });
  assert.equal(one.servers, 1, 'one server has a member in r1');
  await waitFor(() => got(inR1, 'sh:one').length > 0, { what: 'sh:one in r1' });
  assert.deepEqual(got(inR1, 'sh:one'), [{ k: 'v' }]);
  // two rooms: the namespace's channel
  const two = sharded('emit', '--room', 'r1', '--room', 'r2', 'sh:two', '[1,2]');
  assert.equal(two.servers, 1);
  await waitFor(() => got(inR2, 'sh:two').length > 0 && got(inR1, 'sh:two').length > 0, { what: 'sh:two' });
  const all = sharded('emit', 'sh:all', 'true');
  assert.equal(all.servers, 1);
  await waitFor(() => got(none, 'sh:all').length > 0, { what: 'sh:all to every socket' });
  assert.equal(got(none, 'sh:one').length + got(none, 'sh:two').length, 0, 'nothing for rooms it is not in');
  assert.equal(got(inR2, 'sh:one').length, 0);
  // a room nobody is in: its channel has no subscriber at all
  assert.equal(sharded('emit', '--room', 'nobody-here', 'sh:none', '{}').servers, 0);
});

test('the API in sharded mode: the outbox relay\'s message:new reaches the room on the Node server', T, async () => {
  restartApiOn(dir, url, { adapter_mode: 'sharded' });
  apiMoved = true;
  const c = w.user('customer');
  const t = await mkTicket(c);
  const s = await node.member([`ticket:${t.id}`]);
  await new Promise((r) => setTimeout(r, 300)); // the SSUBSCRIBE of the room's channel
  const posted = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'sharded' }, c);
  const m = await waitFor(() => got(s, 'message:new').find((x) => x.id === posted.id),
    { timeout: 10000, what: 'message:new on the Node server' });
  assert.equal(m.content, 'sharded');
  assert.equal(typeof m.eventId, 'number');
});
