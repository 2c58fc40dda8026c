// Helpers of the tests on a 3-master Valkey Cluster (tests/lib/stack.sh's
// pd_start_vcluster): a Node socket.io server with createShardedAdapter,
// its clients, and a master restarted while traffic flows.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, clusterPorts, requireNode, withTimeout, sleep, startBroker, tmpDir } from './broker.mjs';
import { brokerConfig } from './rt.mjs';
import { env, stack, waitFor } from './pd.mjs';

// A socket.io server on the cluster's nodes (ports) with the sharded
// adapter (subscriptionMode "dynamic"); each socket joins the rooms of its
// handshake query.
export async function startShardedNode(ports) {
  const { Server } = requireNode('socket.io');
  const { createShardedAdapter } = requireNode('@socket.io/redis-adapter');
  const { createCluster } = requireNode('redis');
  const rootNodes = ports.map((p) => ({ url: `redis://127.0.0.1:${p}` }));
  const pub = createCluster({ rootNodes }), sub = createCluster({ rootNodes });
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const port = await freePort();
  const server = http.createServer();
  const io = new Server(server, { adapter: createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }) });
  io.on('connection', (s) => {
    for (const room of String(s.handshake.query.rooms || '').split(',').filter(Boolean)) s.join(room);
  });
  await new Promise((res) => server.listen(port, '127.0.0.1', res));
  const clients = [];
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    // a socket.io-client socket in rooms; s.events: [event, ...args]
    async member(rooms) {
      const { io: client } = requireNode('socket.io-client');
      const s = client(`http://127.0.0.1:${port}`, { query: { rooms: rooms.join(',') }, transports: ['websocket'], reconnection: false, forceNew: true });
      s.events = [];
      s.onAny((ev, ...args) => s.events.push([ev, ...args]));
      await withTimeout(new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); }), 5000, 'connect');
      clients.push(s);
      return s;
    },
    async stop() {
      for (const s of clients) s.disconnect();
      await new Promise((res) => io.close(() => res()));
      try { await sub.quit(); } catch { /* */ }
      try { await pub.quit(); } catch { /* */ }
    },
  };
}

// The arguments of each ev a member got.
export const got = (s, ev) => s.events.filter((e) => e[0] === ev).map((e) => e[1]);

// Stop cluster node port for 1.5 s while tick() runs every 200 ms, start
// it again and wait until the cluster says it is whole. Returns the ticks.
export async function restartMidTraffic(dir, port, tick) {
  let sent = 0;
  const traffic = setInterval(() => {
    try { tick(++sent); } catch { /* the node is down */ }
  }, 200);
  try {
    await sleep(600);
    stack('pd_stop_vcluster_node', dir, String(port));
    await sleep(1500);
    stack('pd_start_vcluster_node', dir, String(port));
    await clusterOk(port, 'the restarted node back in the cluster');
  } finally {
    clearInterval(traffic);
  }
  return sent;
}

// Subscribers of a shard channel on the nodes (ports): only the node owning
// its slot has any.
export function shardSubs(ports, ch) {
  let n = 0;
  for (const p of ports) {
    const out = stack('redis-cli', '-p', String(p), 'pubsub', 'shardnumsub', ch).trim().split('\n');
    n += Number(out[1] || 0);
  }
  return n;
}

// The cluster says it serves all slots (asked of node port).
export async function clusterOk(port, what) {
  await waitFor(() => { try { return /cluster_state:ok/.test(stack('redis-cli', '-p', String(port), 'cluster', 'info')); } catch { return false; } },
    { timeout: 30000, what });
}

// The stack's pushdesk-api again, with conf (PD_CONF) as its pushdesk.conf.
export function restartApi(conf) {
  execFileSync('bash', ['-c', 'source "$PD_STACK" && pd_stop_api && PD_CONF="$1" pd_start_api', '-', conf],
    { env: process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

// The stack's API on the cluster: its pushdesk.conf with valkey_url (and
// the settings of extra, {key: value}) replaced, written under dir.
export function restartApiOn(dir, url, extra = {}) {
  const conf = path.join(dir, 'api.conf');
  const keys = ['valkey_url', ...Object.keys(extra)];
  const lines = readFileSync(env.conf, 'utf8').split('\n')
    .filter((l) => !keys.some((k) => new RegExp(`^\\s*${k}\\s*=`).test(l)));
  const add = [`valkey_url = ${url}`, ...Object.entries(extra).map(([k, v]) => `${k} = ${v}`)];
  writeFileSync(conf, [...lines, ...add, ''].join('\n'));
  restartApi(conf);
}

// The value of a counter or gauge (name, without its prefix) on broker b's
// /metrics; NaN when it is not there.
export async function metric(b, name) {
  const body = await new Promise((res, rej) => {
    http.get(`${b.adminUrl}/metrics`, (r) => {
      let d = '';
      r.on('data', (c) => { d += c; });
      r.on('end', () => res(d));
    }).on('error', rej);
  });
  const m = new RegExp(`^\\S*${name}\\S* (\\d+)`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

// Brokers whose Valkey connection came up (their log says so), count.
export const valkeyUps = (b) => (b.log.match(/valkey up/g) || []).length;

// A 3-master cluster under a new folder (prefix) and two brokers on it in
// adapter_mode sharded, both connected: {ports, dir, url, A, B}.
export async function shardedPair(prefix) {
  const ports = await clusterPorts();
  const dir = tmpDir(prefix);
  stack('pd_start_vcluster', dir, ...ports);
  const url = `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
  const conf = brokerConfig({ valkey_url: url, adapter_mode: 'sharded', presence_ttl: 4, lease_ttl: 2 });
  const [A, B] = await Promise.all([startBroker({ config: conf }), startBroker({ config: conf })]);
  await waitFor(() => valkeyUps(A) > 0 && valkeyUps(B) > 0, { timeout: 15000, what: 'both brokers on the cluster' });
  return { ports, dir, url, A, B };
}
