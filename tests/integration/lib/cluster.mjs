// Helpers for the cluster tests (several brokers on one Valkey, issue 5):
// a private redis-server that a test may stop and restart, brokers
// configured for it, socket.io-client connections with tokens, the
// @socket.io/redis-emitter and a Node socket.io server with
// @socket.io/redis-adapter on the same redis.
//
//   const r = await startRedis();            // r.url, r.port, r.stop(), r.start()
//   const b = await startClusterBroker(r, { presence_ttl: 3 });
//   const c = await connectClient(b, { sub: 'u1', org: 'o1' });
//   const e = await emitter(r);  e.to('org:o1').emit('x', 1);
//   const n = await startNodeServer(r);     // n.url, n.io, n.stop()

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startBroker, writeConfig, tmpDir, freePort, mintJwt, claims, requireNode, sleep, withTimeout,
} from './broker.mjs';

export const SECRET = 'cluster-test-secret-0123456789abcdef';
export const KEY = 'socket.io';

const live = new Set();
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

async function ping(port) {
  const { createClient } = requireNode('redis');
  const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
  c.on('error', () => {});
  try { await c.connect(); await c.ping(); return true; } catch { return false; } finally { try { await c.disconnect(); } catch { /* */ } }
}

// A redis-server of our own (no persistence) on a free port. stop() kills
// it (SIGKILL unless told), start() brings it back on the same port.
export async function startRedis() {
  const port = await freePort();
  const dir = tmpDir('pd-cluster-redis-');
  const r = {
    port, url: `redis://127.0.0.1:${port}`, proc: null,
    async start() {
      this.proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
      live.add(this.proc);
      const deadline = Date.now() + 5000;
      while (!(await ping(port))) {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await sleep(50);
      }
    },
    async stop(signal = 'SIGKILL') {
      if (!this.proc) return;
      const p = this.proc;
      this.proc = null;
      const done = new Promise((res) => p.once('exit', res));
      p.kill(signal);
      await done;
      live.delete(p);
    },
  };
  await r.start();
  return r;
}

// A redis client (node-redis 4) for assertions.
export async function redisClient(r) {
  const { createClient } = requireNode('redis');
  const c = createClient({ url: r.url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// A broker on redis r. conf: extra pushdesk.conf keys (lease_ttl,
// presence_ttl in seconds, ...). opts: passed to startBroker (profile...).
export async function startClusterBroker(r, conf = {}, opts = {}) {
  const config = writeConfig({
    valkey_url: r.url, adapter_key: KEY, jwt_secret: SECRET, cors_origins: '*',
    lease_ttl: 2, presence_ttl: 4, broker_request_timeout: 3000, broker_threads: 2,
    log_level: 'info', ...conf,
  });
  return startBroker({ config, ...opts });
}

// Wait until a broker's log says it reached Valkey.
export async function waitValkeyUp(b, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!/valkey up/.test(b.log)) {
    if (Date.now() > deadline) throw new Error(`broker did not reach valkey:\n${b.log.slice(-2000)}`);
    await sleep(50);
  }
}

export function tokenFor(extra) {
  return mintJwt(claims(extra), SECRET);
}

// socket.io-client on broker b (or any {url}); resolves once connected.
export async function connectClient(b, extra = {}, opts = {}) {
  const { io } = requireNode('socket.io-client');
  const s = io(b.url + (opts.nsp || ''), {
    auth: { token: tokenFor(extra) }, transports: opts.transports || ['websocket'],
    reconnection: false, forceNew: true,
  });
  s.events = [];
  s.onAny((ev, ...args) => s.events.push([ev, ...args]));
  await withTimeout(new Promise((res, rej) => {
    s.once('connect', res);
    s.once('connect_error', rej);
  }), 5000, 'socket.io connect');
  return s;
}

// Events named ev received by s so far (their first argument).
export const seen = (s, ev) => s.events.filter((e) => e[0] === ev).map((e) => e[1]);

export async function until(fn, ms = 10000, what = 'a condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

// An @socket.io/redis-emitter on r (its own redis client).
export async function emitter(r, key = KEY) {
  const { Emitter } = requireNode('@socket.io/redis-emitter');
  const c = await redisClient(r);
  const e = new Emitter(c, { key });
  e.close = () => c.quit().catch(() => {});
  return e;
}

// A Node socket.io server with @socket.io/redis-adapter on r. Each socket
// joins the rooms named in its handshake query `rooms` (comma separated).
export async function startNodeServer(r, key = KEY) {
  const { Server } = requireNode('socket.io');
  const { createAdapter } = requireNode('@socket.io/redis-adapter');
  const pub = await redisClient(r);
  const sub = pub.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const port = await freePort();
  const server = http.createServer();
  const io = new Server(server, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 3000 }) });
  io.on('connection', (s) => {
    for (const room of String(s.handshake.query.rooms || '').split(',').filter(Boolean)) s.join(room);
  });
  await new Promise((res) => server.listen(port, '127.0.0.1', res));
  return {
    io, port, url: `http://127.0.0.1:${port}`,
    async stop() {
      // quit (not disconnect): commands the adapter still has in flight
      // complete instead of rejecting after the test ended
      await new Promise((res) => io.close(() => res()));
      try { await sub.quit(); } catch { /* */ }
      try { await pub.quit(); } catch { /* */ }
    },
  };
}

// A socket.io-client on a Node server, in rooms.
export async function connectNode(n, rooms = []) {
  const { io } = requireNode('socket.io-client');
  const s = io(n.url, { query: { rooms: rooms.join(',') }, transports: ['websocket'], reconnection: false, forceNew: true });
  s.events = [];
  s.onAny((ev, ...args) => s.events.push([ev, ...args]));
  await withTimeout(new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); }), 5000, 'node connect');
  return s;
}

// The broker wants UUIDs for sub and org: uid('name') is a UUID fixed per
// name for this process; newOrg() a fresh one.
const uids = new Map();
export function uid(name) {
  if (!uids.has(name)) uids.set(name, randomUUID());
  return uids.get(name);
}
export const newOrg = () => randomUUID();

export { sleep, path, existsSync };
