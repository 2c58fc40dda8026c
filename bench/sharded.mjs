// bench/sharded.mjs: what Valkey sends each broker in adapter_mode classic
// and sharded for the same workload (docs/benchmarks.md, "Classic and
// sharded adapter"). N brokers (--profile bench, one loop each) on a
// 3-master Valkey Cluster on loopback (tests/lib/stack.sh's
// pd_start_vcluster); each broker has its own clients and rooms (one org
// per broker: its user:, org: and role: rooms are its own too); every
// client broadcasts M events of S bytes to its own room through its broker
// (the bench profile's "broadcast": app_emit, so through the adapter).
// Measured per broker, over the workload only: bytes Valkey sent it (ss -ti
// bytes_received of its TCP connections to the cluster's ports) and the
// pub/sub messages it received (/metrics: valkey_messages_total in
// classic, sharded_messages_total in sharded).
//
//   PD_BUILD=build node bench/sharded.mjs [--brokers 8] [--rooms 20]
//        [--msgs 25] [--size 200] [--modes classic,sharded]
//
// Prints one TSV line per broker and mode, then a summary per mode.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(here, '..');
process.env.PD_SRC = process.env.PD_SRC || SRC;
process.env.PD_STACK = process.env.PD_STACK || path.join(SRC, 'tests', 'lib', 'stack.sh');
const { startBroker, freePort, tmpDir, mintJwt, claims, requireNode } =
  await import(path.join(SRC, 'tests', 'integration', 'lib', 'broker.mjs'));
const { io } = requireNode('socket.io-client');

const o = { brokers: 8, rooms: 20, msgs: 25, size: 200, modes: ['classic', 'sharded'] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[++i];
  if (a === '--brokers') o.brokers = Number(v);
  else if (a === '--rooms') o.rooms = Number(v);
  else if (a === '--msgs') o.msgs = Number(v);
  else if (a === '--size') o.size = Number(v);
  else if (a === '--modes') o.modes = v.split(',');
  else { console.error(`sharded.mjs: unknown argument ${a}`); process.exit(2); }
}

const sh = (...args) => {
  const quoted = args.map((x) => `'${String(x).replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('bash', ['-c', `source "$PD_STACK" && ${quoted}`], { env: process.env, encoding: 'utf8' });
};

// bytes_received of each pid's established TCP connections to ports
function bytesIn(pids, ports) {
  const out = execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8' });
  const lines = out.split('\n');
  const by = new Map(pids.map((p) => [p, 0]));
  for (let i = 0; i < lines.length; i++) {
    const m = /users:\(\("[^"]*",pid=(\d+)/.exec(lines[i]);
    const peer = lines[i].trim().split(/\s+/)[3] || '';
    if (!m || !by.has(Number(m[1])) || !ports.includes(Number(peer.split(':').pop()))) continue;
    const info = lines[i] + ' ' + (lines[i + 1] || '');
    const b = /bytes_received:(\d+)/.exec(info);
    if (b) by.set(Number(m[1]), by.get(Number(m[1])) + Number(b[1]));
  }
  return pids.map((p) => by.get(p));
}

function metrics(b) {
  return new Promise((res, rej) => {
    http.get(`${b.adminUrl}/metrics`, (r) => {
      let d = '';
      r.on('data', (c) => { d += c; });
      r.on('end', () => {
        const get = (n) => Number((new RegExp(`^\\S*${n}\\S* (\\d+)`, 'm').exec(d) || [])[1] || 0);
        res(get('valkey_messages_total') + get('sharded_messages_total'));
      });
    }).on('error', rej);
  });
}

// CPU seconds (user + system) the cluster's redis-server processes used
function valkeyCpu(dir, ports) {
  let ticks = 0;
  for (const p of ports) {
    const pid = readFileSync(path.join(dir, `node-${p}.pid`), 'utf8').trim();
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

const ackEmit = (s, ...args) => new Promise((res) => s.emit(...args, res));

async function run(mode, ports, url, dir) {
  const secret = 'bench-sharded-secret-0123456789abcdef';
  const conf = path.join(dir, `${mode}.conf`);
  writeFileSync(conf, [`valkey_url = ${url}`, `adapter_mode = ${mode}`, 'jwt_alg = HS256',
    `jwt_secret = ${secret}`, 'log_level = warning', ''].join('\n'));
  const brokers = await Promise.all(Array.from({ length: o.brokers }, () =>
    startBroker({ config: conf, profile: 'bench', args: ['--threads', '1'], readyMs: 20000 })));
  const clients = [];
  try {
    for (let b = 0; b < o.brokers; b++) {
      for (let r = 0; r < o.rooms; r++) {
        const org = `00000000-0000-4000-8000-${String(b).padStart(12, '0')}`;
        const sub = `00000000-0000-4000-9000-${String(b * 1000 + r).padStart(12, '0')}`;
        const token = mintJwt(claims({ sub, org }), secret);
        const s = io(brokers[b].url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
        await new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); });
        s.room = `b${b}-room-${r}`;
        s.got = 0;
        s.on('bench', () => { s.got++; });
        await ackEmit(s, 'join', s.room);
        clients.push(s);
      }
    }
    await new Promise((r) => setTimeout(r, 1500)); // subscriptions settle, leases renewed
    const pids = brokers.map((b) => b.proc.pid);
    const b0 = bytesIn(pids, ports), m0 = await Promise.all(brokers.map(metrics)), c0 = valkeyCpu(dir, ports);
    const t0 = Date.now();
    const data = 'x'.repeat(o.size);
    await Promise.all(clients.map(async (s) => {
      for (let i = 0; i < o.msgs; i++) await ackEmit(s, 'broadcast', { to: [s.room], event: 'bench', data });
    }));
    const want = o.msgs;
    for (let k = 0; k < 100 && clients.some((s) => s.got < want); k++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const secs = (Date.now() - t0) / 1000;
    const b1 = bytesIn(pids, ports), m1 = await Promise.all(brokers.map(metrics)), c1 = valkeyCpu(dir, ports);
    const rows = brokers.map((_, i) => ({ bytes: b1[i] - b0[i], msgs: m1[i] - m0[i] }));
    const delivered = clients.reduce((n, s) => n + s.got, 0);
    const published = clients.length * o.msgs;
    for (const [i, r] of rows.entries()) console.log(`${mode}\tbroker${i}\t${r.bytes}\t${r.msgs}`);
    const avg = (k) => Math.round(rows.reduce((n, r) => n + r[k], 0) / rows.length);
    return { mode, published, delivered, secs, bytes: avg('bytes'), msgs: avg('msgs'), cpu: c1 - c0 };
  } finally {
    for (const s of clients) s.disconnect();
    await Promise.all(brokers.map((b) => b.stop()));
  }
}

const ports = [await freePort(), await freePort(), await freePort()];
const dir = tmpDir('pd-bench-sharded-');
sh('pd_start_vcluster', dir, ...ports);
const url = ports.map((p) => `127.0.0.1:${p}`).join(',');
const results = [];
try {
  console.log('mode\tbroker\tvalkey_bytes_in\tpubsub_messages_in');
  for (const m of o.modes) results.push(await run(m, ports, `redis://${url}`, dir));
} finally {
  sh('pd_stop_vcluster', dir, ...ports);
}
console.log(`\n${o.brokers} brokers x ${o.rooms} rooms (one client each), ${o.msgs} events of ${o.size} bytes per client`);
console.log('mode\tpublished\tdelivered\tseconds\tbytes_per_broker\tmessages_per_broker\tbytes_per_event_published\tvalkey_cpu_s');
for (const r of results) {
  console.log(`${r.mode}\t${r.published}\t${r.delivered}\t${r.secs.toFixed(1)}\t${r.bytes}\t${r.msgs}\t${(r.bytes * o.brokers / r.published).toFixed(0)}\t${r.cpu.toFixed(2)}`);
}
