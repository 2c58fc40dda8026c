// Helpers for the api_*.test.mjs tests: orgs and users straight in
// PostgreSQL (psql), HS256 tokens signed with the stack's jwt_secret, HTTP
// calls through nginx, and a redis subscriber that decodes the Socket.IO
// redis-emitter messages (notepack.io) the API publishes.
// Environment: PD_SRC, PD_HTTP, PD_CONF, PD_DATABASE_URL, PD_REDIS_URL, PD_PGBIN.

import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SRC = process.env.PD_SRC || path.resolve(here, '../..');
export const requireNode = createRequire(path.join(SRC, 'tests', 'node', 'package.json'));
export const HTTP = process.env.PD_HTTP;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function conf(key, dflt = '') {
  const txt = readFileSync(process.env.PD_CONF, 'utf8');
  let v = dflt;
  for (const line of txt.split('\n')) {
    const m = line.match(/^\s*([a-z_]+)\s*=\s*(.*?)\s*$/);
    if (m && m[1] === key) v = m[2];
  }
  const env = process.env['PUSHDESK_' + key.toUpperCase()];
  return env !== undefined ? env : v;
}

const psqlBin = () => (process.env.PD_PGBIN ? path.join(process.env.PD_PGBIN, 'psql') : 'psql');

// Run SQL with psql variables (:'v1' ...); returns the rows as arrays of strings.
export function sql(query, vars = {}) {
  const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-F', '\t', '-d', process.env.PD_DATABASE_URL];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const out = execFileSync(psqlBin(), args, { input: query, encoding: 'utf8', timeout: 30000 });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

export function mkOrg(name = 'org-' + randomUUID().slice(0, 8)) {
  return sql(`INSERT INTO organizations (name) VALUES (:'name') RETURNING id;`, { name })[0][0];
}

export function mkTeam(org, name = 'team-' + randomUUID().slice(0, 8)) {
  return sql(`INSERT INTO teams (org_id, name) VALUES (:'org', :'name') RETURNING id;`, { org, name })[0][0];
}

// A user row; returns {id, org, role, name, email, team}.
export function mkUser(org, role, opts = {}) {
  const name = opts.name || `${role}-${randomUUID().slice(0, 8)}`;
  const email = opts.email || `${name}-${randomUUID().slice(0, 8)}@example.test`.toLowerCase();
  const team = opts.team || '';
  const id = sql(
    `INSERT INTO users (org_id, role, name, email, team_id) VALUES (:'org', :'role', :'name', :'email', NULLIF(:'team', '')::uuid) RETURNING id;`,
    { org, role, name, email, team },
  )[0][0];
  return { id, org, role, name, email, team: team || undefined };
}

const b64u = (b) => Buffer.from(b).toString('base64url');

// An HS256 access token for user u (claims of contract section 2).
export function token(u, { ttl = 3600, iat, secret, extra = {} } = {}) {
  const now = iat ?? Math.floor(Date.now() / 1000);
  const claims = { sub: u.id, org: u.org, role: u.role, name: u.name, email: u.email, iat: now, exp: now + ttl, ...extra };
  if (u.team) claims.team = u.team;
  const iss = conf('jwt_issuer'), aud = conf('jwt_audience');
  if (iss) claims.iss = iss;
  if (aud) claims.aud = aud;
  const head = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64u(JSON.stringify(claims));
  const sig = createHmac('sha256', secret ?? conf('jwt_secret')).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// HTTP through nginx. body: object (JSON), string/Buffer (raw), undefined.
export async function api(method, p, body, tok, headers = {}) {
  const h = { ...headers };
  if (tok) h.authorization = `Bearer ${tok}`;
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
    else payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const res = await fetch(HTTP + '/api/v1' + p, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// Subscribe to every adapter channel of the stack; collect decoded messages
// {channel, uid, event, payload, nsp, rooms, except, flags}.
export async function subscriber() {
  const { createClient } = requireNode('redis');
  const notepack = requireNode('notepack.io');
  const key = conf('adapter_key', 'socket.io') || 'socket.io';
  const c = createClient({ url: process.env.PD_REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  const got = [];
  const waiters = [];
  await c.pSubscribe(
    `${key}#*`,
    (msg, channel) => {
      let d;
      try {
        d = notepack.decode(msg);
      } catch {
        return;
      }
      const [uid, packet, opts] = d;
      const m = {
        channel: channel.toString(),
        uid,
        event: packet.data[0],
        payload: packet.data[1],
        nsp: packet.nsp,
        rooms: opts.rooms,
        except: opts.except,
        flags: opts.flags,
        raw: msg,
      };
      got.push(m);
      for (const w of [...waiters]) w();
    },
    true,
  );
  return {
    got,
    // Wait until pred matches n messages (or timeout); returns the matches.
    async wait(pred, n = 1, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = got.filter(pred);
        if (m.length >= n) return m;
        if (Date.now() > deadline) return m;
        await new Promise((r) => {
          const t = setTimeout(r, 50);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
        waiters.length = 0;
      }
    },
    clear() {
      got.length = 0;
    },
    async close() {
      // disconnect, not quit: quit waits for a reconnection that may never come
      try {
        await c.disconnect();
      } catch {
        /* gone already */
      }
    },
  };
}

// An org with one user of each role, and their tokens.
export function mkWorld() {
  const org = mkOrg();
  const w = { org };
  for (const role of ['customer', 'agent', 'admin', 'service']) {
    w[role] = mkUser(org, role);
    w[role].tok = token(w[role]);
  }
  w.customer2 = mkUser(org, 'customer');
  w.customer2.tok = token(w.customer2);
  w.agent2 = mkUser(org, 'agent');
  w.agent2.tok = token(w.agent2);
  return w;
}

// Run a tests/lib/stack.sh function (pd_stop_redis, pd_start_pg, ...).
export function stack(fn) {
  return execFileSync('bash', ['-c', `source "$PD_STACK" && ${fn}`], {
    encoding: 'utf8',
    timeout: 90000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// Poll fn until it returns a truthy value; throws naming what after ms.
export async function waitFor(fn, { timeout = 10000, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A plain redis client (commands), for presence hashes and rate-limit keys.
export async function redisClient() {
  const { createClient } = requireNode('redis');
  const c = createClient({ url: process.env.PD_REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  return c;
}
