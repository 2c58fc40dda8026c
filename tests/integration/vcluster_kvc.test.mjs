// The synchronous Valkey clients (shared/pd_kvc: the API, its relay and
// pushdeskctl) on a 3-master Valkey Cluster in adapter_mode sharded with
// recovery on: every emit is an XADD to the namespace's stream ({recovery}
// slot) then an SPUBLISH on its room's shard channel (a slot per room).
// Checked: the clients keep one connection per node and send each command
// to its slot's node, so the connections the nodes receive stay bounded
// (INFO stats total_connections_received, summed over the nodes) over 200
// messages posted to 20 tickets through the API; and every one of them
// reaches the sharded broker's socket. pushdeskctl emit opens at most one
// connection per node per run. ASK (a slot being migrated) sends the
// command once to the importing node, after ASKING.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  T, world, mkTicket, must, open, closeAll, ack, mark, assertOkAck, brokerConfig, confValue, sleep,
} from './lib/rt.mjs';
import { startBroker, clusterPorts, tmpDir } from './lib/broker.mjs';
import { restartApi, restartApiOn, shardSubs as shardSubsOn } from './lib/vcluster.mjs';
import { ctl, env, stack, waitFor } from './lib/pd.mjs';

const w = world();
let A, ports, dir, url;
let apiMoved = false;

const shardSubs = (ch) => shardSubsOn(ports, ch);

// connections the nodes have accepted so far (each redis-cli call here
// is one of them: one per node)
function accepted() {
  let n = 0;
  for (const p of ports) {
    const m = /total_connections_received:(\d+)/.exec(stack('redis-cli', '-p', String(p), 'info', 'stats'));
    assert.ok(m, `INFO stats of node ${p}`);
    n += Number(m[1]);
  }
  return n;
}

before(async () => {
  ports = await clusterPorts();
  dir = tmpDir('pd-vcluster-kvc-');
  stack('pd_start_vcluster', dir, ...ports);
  url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
  A = await startBroker({ config: brokerConfig({ valkey_url: url, adapter_mode: 'sharded', lease_ttl: 2 }) });
  await waitFor(() => /valkey up/.test(A.log), { timeout: 15000, what: 'the broker on the cluster' });
  restartApiOn(dir, url, { adapter_mode: 'sharded' });
  apiMoved = true;
});

after(async () => {
  closeAll();
  if (apiMoved) {
    try { restartApi(env.conf); } catch { /* the harness heals the stack */ }
  }
  if (A) await A.stop();
  try { stack('pd_stop_vcluster', dir, ...ports); } catch { /* reported by the harness */ }
});

// An agent on the broker in n new tickets' rooms, each room's shard
// channel subscribed.
async function agentInTickets(n) {
  const c = w.user('customer');
  const tickets = [];
  for (let i = 0; i < n; i++) tickets.push(await mkTicket(c));
  const ag = await open(w.user('agent'), { url: A.url });
  for (const t of tickets) assertOkAck(await ack(ag, 'ticket:join', t.id));
  for (const t of tickets) {
    await waitFor(() => shardSubs(`socket.io#/#ticket:${t.id}#`) === 1, { timeout: 10000, what: `the broker on ticket:${t.id}` });
  }
  return { c, ag, tickets };
}

test('the API: 200 messages to 20 tickets open a bounded number of connections; each reaches the socket', { ...T, timeout: 240_000 }, async (tc) => {
  const { c, ag, tickets } = await agentInTickets(20);
  const N = 200;
  const m = mark(ag);
  const ids = new Set();
  const before0 = accepted();
  for (let i = 0; i < N; i++) {
    const t = tickets[i % tickets.length];
    const posted = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: `kvc ${i}` }, c);
    ids.add(posted.id);
  }
  const got = () => new Set(ag.log.slice(m).filter((x) => x.event === 'message:new' && ids.has(x.args[0].id)).map((x) => x.args[0].id));
  await waitFor(() => got().size === N, { timeout: 30000, what: `${N} message:new on the socket` }).catch(() => {});
  const used = accepted() - before0 - ports.length; // less this call's own
  // each API worker and the relay: at most one connection per node
  const workers = Number(confValue('api_workers', '4')) + 1;
  tc.diagnostic(`${N} messages through the API on a 3-master cluster: the nodes accepted ${used} connections (bound ${workers * ports.length}); ${got().size} reached the socket`);
  assert.equal(got().size, N, 'every message reached the broker\'s socket');
  assert.ok(used <= workers * ports.length, `${used} connections for ${N} messages (at most ${workers * ports.length})`);
  await sleep(300);
  const dup = ag.log.slice(m).filter((x) => x.event === 'message:new' && ids.has(x.args[0].id)).length;
  assert.equal(dup, N, 'each message once');
});

test('pushdeskctl emit: at most one connection per node per run, and delivered', { ...T, timeout: 120_000 }, async (tc) => {
  const { ag, tickets } = await agentInTickets(10);
  const m = mark(ag);
  const run = `ctl-${Date.now()}`;
  const before0 = accepted();
  for (const [i, t] of tickets.entries()) {
    const r = ctl('emit', '--room', `ticket:${t.id}`, 'kvc:tick', JSON.stringify({ run, i }), {
      env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded' }, json: true,
    });
    assert.equal(r.servers, 1, 'one broker counted');
  }
  const used = accepted() - before0 - ports.length;
  const ticks = () => ag.log.slice(m).filter((x) => x.event === 'kvc:tick' && x.args[0].run === run).length;
  await waitFor(() => ticks() === tickets.length, { timeout: 15000, what: `${tickets.length} emits on the socket` }).catch(() => {});
  tc.diagnostic(`${tickets.length} pushdeskctl emits: the nodes accepted ${used} connections`);
  assert.equal(ticks(), tickets.length, 'every emit reached the socket');
  assert.ok(used <= tickets.length * ports.length, `${used} connections for ${tickets.length} runs`);
});

// CLUSTER NODES of node port: {id, port, slots: [[from, to], ...]} of each master
function masters() {
  return stack('redis-cli', '-p', String(ports[0]), 'cluster', 'nodes').trim().split('\n')
    .map((l) => l.trim().split(' '))
    .filter((f) => f[2].includes('master'))
    .map((f) => ({
      id: f[0],
      port: Number(/:(\d+)@/.exec(f[1])[1]),
      slots: f.slice(8).filter((r) => /^\d+(-\d+)?$/.test(r)).map((r) => r.split('-').map(Number)).map(([a, b]) => [a, b ?? a]),
    }));
}

test('ASK during a slot migration: the stream\'s XADD lands on the importing node, once', T, async () => {
  // a new adapter key: its stream does not exist on the migrating node,
  // which answers ASK (all recovery streams share the {recovery} slot)
  const key = `kvcask${Date.now()}`;
  const stream = `${key}:{recovery}:events:/`;
  const slot = Number(stack('redis-cli', '-p', String(ports[0]), 'cluster', 'keyslot', stream).trim());
  const ms = masters();
  const from = ms.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
  const to = ms.find((m) => m !== from);
  assert.ok(from && to, 'the slot\'s owner and another master');
  const cli = (m, ...a) => stack('redis-cli', '-p', String(m.port), ...a.map(String)).trim();
  assert.equal(cli(to, 'cluster', 'setslot', slot, 'importing', from.id), 'OK');
  assert.equal(cli(from, 'cluster', 'setslot', slot, 'migrating', to.id), 'OK');
  try {
    assert.match(cli(from, 'xlen', stream), /^ASK /, 'the migrating node redirects a missing key');
    const r = ctl('emit', '--room', 'kvc:ask', 'kvc:ask', '1', {
      env: { PUSHDESK_VALKEY_URL: url, PUSHDESK_ADAPTER_MODE: 'sharded', PUSHDESK_ADAPTER_KEY: key }, json: true,
    });
    assert.equal(r.servers, 0, 'no broker on that adapter key');
    const onTo = execFileSync('redis-cli', ['-p', String(to.port)], { input: `ASKING\nXLEN ${stream}\n`, encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(onTo, ['OK', '1'], 'one entry on the importing node');
    assert.match(cli(from, 'xlen', stream), /^ASK /, 'none on the migrating node');
  } finally {
    // back as it was (the entry stays behind on the importing node: this
    // cluster goes with the file)
    cli(to, 'cluster', 'setslot', slot, 'stable');
    cli(from, 'cluster', 'setslot', slot, 'stable');
  }
});
