// Spawning pushdesk-broker for protocol tests, and small shared helpers.
//
//   const b = await startBroker({ profile: 'socketio-conformance' });
//   ... b.url, b.port, b.adminUrl ...
//   await b.stop();
//
// PD_BUILD (default /work/build-t) holds broker/pushdesk-broker.
// Every broker started here is killed when the test process exits.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SRC = process.env.PD_SRC || path.resolve(here, '../../..');
export const BUILD = process.env.PD_BUILD || '/work/build-t';
export const BROKER_BIN = path.join(BUILD, 'broker', 'pushdesk-broker');

// require() for the npm peers installed in tests/node/.
export const requireNode = createRequire(path.join(SRC, 'tests', 'node', 'package.json'));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects after ms with a message naming what was awaited.
export function withTimeout(promise, ms, what = 'operation') {
  let t;
  const timer = new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

// Next emission of `event` on an EventEmitter-like object (on/off or
// once/removeListener), bounded by ms. Resolves with the args array.
export function waitEvent(emitter, event, ms = 5000) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `event "${event}"`).finally(() => {
    (emitter.off || emitter.removeListener).call(emitter, event, handler);
  });
}

// Loopback ports are reserved as tests/lib/stack.sh's pd_free_port does:
// a lock folder /tmp/pushdesk-ports/PORT owned by this process (removed at
// exit; one whose owner died is taken over), PORT in 20000-31999, below the
// kernel's ephemeral range. The kernel's own choice (listen on port 0, close,
// let the daemon bind it) left a window in which another of the parallel
// stacks could take the port, and a Valkey Cluster node's bus port (PORT +
// 10000) was neither checked nor, above 55535, possible at all.
const PORTS = '/tmp/pushdesk-ports';
const reserved = [];
process.on('exit', () => {
  for (const lock of reserved) { try { rmSync(lock, { recursive: true, force: true }); } catch { /* gone */ } }
});

const listening = (port) => new Promise((resolve) => {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

// Takes the lock of port; false when another live process holds it.
function lockPort(port) {
  const lock = path.join(PORTS, String(port));
  try {
    mkdirSync(lock);
  } catch {
    let owner = 0;
    try { owner = Number(readFileSync(path.join(lock, 'owner'), 'utf8').trim()); } catch { /* not written yet */ }
    if (!owner || alive(owner)) return false;
    rmSync(lock, { recursive: true, force: true });
    try { mkdirSync(lock); } catch { return false; }
  }
  writeFileSync(path.join(lock, 'owner'), `${process.pid}\n`);
  reserved.push(lock);
  return true;
}

function unlockPort(port) {
  const lock = path.join(PORTS, String(port));
  const i = reserved.indexOf(lock);
  if (i >= 0) reserved.splice(i, 1);
  rmSync(lock, { recursive: true, force: true });
}

// A port nobody listens on with, for each of offsets, port + offset free
// too, all reserved; port in [lo, hi).
async function reserve(offsets = [], lo = 20000, hi = 32000) {
  mkdirSync(PORTS, { recursive: true });
  try { chmodSync(PORTS, 0o1777); } catch { /* another user's: it did the same */ }
  for (let tries = 0; tries < 500; tries++) {
    const port = lo + Math.floor(Math.random() * (hi - lo));
    const all = [port, ...offsets.map((o) => port + o)];
    const taken = [];
    let ok = true;
    for (const p of all) {
      if (lockPort(p)) taken.push(p);
      else { ok = false; break; }
    }
    if (ok) for (const p of all) if (await listening(p)) { ok = false; break; }
    if (ok) return port;
    for (const p of taken) unlockPort(p);
  }
  throw new Error('no free loopback port found');
}

// A free TCP port on 127.0.0.1, reserved for this process.
export function freePort() {
  return reserve();
}

// n ports for the nodes of a Valkey Cluster: each node's bus port (its port
// + 10000) is free and reserved too, and below the ephemeral range as well.
export async function clusterPorts(n = 3) {
  const ports = [];
  while (ports.length < n) ports.push(await reserve([10000], 20000, 22000));
  return ports;
}

function httpGetStatus(url, ms) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: ms }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => { req.destroy(); resolve(0); });
    req.on('error', () => resolve(0));
  });
}

const live = new Set();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
    process.exit(130);
  });
}

// A temporary folder removed at exit.
export function tmpDir(prefix = 'pd-broker-test-') {
  const base = process.env.PD_TMP && existsSync(process.env.PD_TMP) ? process.env.PD_TMP : os.tmpdir();
  const d = mkdtempSync(path.join(base, prefix));
  process.on('exit', () => { try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ } });
  return d;
}

// Writes a pushdesk.conf (key = value lines) and returns its path.
export function writeConfig(obj, dir = tmpDir()) {
  const file = path.join(dir, 'pushdesk.conf');
  writeFileSync(file, Object.entries(obj).map(([k, v]) => `${k} = ${v}\n`).join(''));
  return file;
}

// Starts the broker; resolves once GET /healthz on the admin port is 200.
// opts: profile, config (file), listen (false = no --listen flag, the
// config's broker_listen is used; then pass port), port, adminPort,
// args (extra), env (extra), readyMs (default 10000).
export async function startBroker(opts = {}) {
  if (!existsSync(BROKER_BIN)) throw new Error(`broker binary not found: ${BROKER_BIN} (set PD_BUILD)`);
  const port = opts.port || await freePort();
  const adminPort = opts.adminPort || await freePort();
  const args = [];
  if (opts.config) args.push('--config', opts.config);
  if (opts.profile) args.push('--profile', opts.profile);
  if (opts.listen !== false) args.push('--listen', `127.0.0.1:${port}`);
  args.push('--admin-listen', `127.0.0.1:${adminPort}`);
  if (opts.args) args.push(...opts.args);

  // Nothing from the surrounding stack leaks in: no database, no Valkey.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PUSHDESK_')) env[k] = v;
  Object.assign(env, opts.env || {});

  const proc = spawn(BROKER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let log = '';
  const keep = (d) => { log += d; if (log.length > 200000) log = log.slice(-100000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  let stopping = false;
  const exitP = new Promise((resolve) => proc.on('exit', (code, signal) => {
    exited = { code, signal };
    if (!stopping) {
      process.stderr.write(`\n*** pushdesk-broker (${args.join(' ')}) exited unexpectedly: ` +
        `${JSON.stringify(exited)}; last output:\n${log.slice(-3000)}\n`);
    }
    live.delete(proc);
    resolve(exited);
  }));
  proc.on('error', (e) => keep(`spawn error: ${e.message}\n`));

  const b = {
    proc, port, adminPort, args,
    pid: proc.pid,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    get log() { return log; },
    get exited() { return exited; },
    exitP,
    async stop(signal = 'SIGTERM') {
      if (exited) return exited;
      stopping = true;
      try { proc.kill(signal); } catch { /* gone */ }
      const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, 3000);
      const r = await exitP;
      clearTimeout(t);
      return r;
    },
    rssKb() {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) : null;
      } catch { return null; }
    },
  };

  const deadline = Date.now() + (opts.readyMs || 10000);
  for (;;) {
    if (exited) throw new Error(`broker exited early (${JSON.stringify(exited)}) args=${args.join(' ')}\n${log}`);
    if (await httpGetStatus(`${b.adminUrl}/healthz`, 1000) === 200) break;
    if (Date.now() > deadline) {
      await b.stop('SIGKILL');
      throw new Error(`broker not healthy within ${opts.readyMs || 10000} ms on ${b.adminUrl}/healthz; args=${args.join(' ')}\n${log}`);
    }
    await sleep(50);
  }
  return b;
}

// ---- JWT (built here on node:crypto, so that tests control every byte) ----

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// mintJwt(claims, secret, { alg: 'HS256' | 'HS512' | 'none', header: {...}, badSig })
export function mintJwt(claims, secret, opts = {}) {
  const alg = opts.alg || 'HS256';
  const header = { alg, typ: 'JWT', ...(opts.header || {}) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  if (alg === 'none') return `${input}.`;
  const h = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  if (!h) throw new Error(`mintJwt: unsupported alg ${alg}`);
  let sig = createHmac(h, secret).update(input).digest();
  if (opts.badSig) { sig = Buffer.from(sig); sig[0] ^= 0xff; }
  return `${input}.${b64url(sig)}`;
}

// Standard claims for a test user; override any with `extra`.
export function claims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: '00000000-0000-4000-8000-000000000001',
    org: '00000000-0000-4000-8000-0000000000aa',
    role: 'agent',
    name: 'Test User',
    email: 'test@example.com',
    iat: now,
    exp: now + 3600,
    ...extra,
  };
}

// Recursively turn ArrayBuffer / typed arrays into Buffers, for deepEqual.
export function toBuffers(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(toBuffers);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = toBuffers(x);
    return o;
  }
  return v;
}
