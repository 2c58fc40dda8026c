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
import { existsSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
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

// A free TCP port on 127.0.0.1 (the kernel's choice; released at once).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
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
