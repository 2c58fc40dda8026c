// Helpers for the Node integration tests, run by tests/run against the private
// stack of tests/lib/stack.sh (environment: docs/DEVELOPING.md, "Tests").
//
//   ctl(...args)                 pushdeskctl --config $PD_CONF ARGS; stdout, trimmed
//                                (throws with pushdeskctl's one-line reason)
//   api(method, path, body, token)   fetch through nginx; path "/tickets" or
//                                "/api/v1/tickets"; resolves {status, headers, body, text}
//   mkOrg(name?)                 a new organization's id
//   mkUser(org, role, opts?)     a new user {id, org, role, name, email, password, team, token}
//   token(userId, ttl?)          a signed access token
//   stack(fn, ...args, {env}?)   a function of tests/lib/stack.sh (pd_stop_pg, ...)
//   waitFor(fn, {timeout, interval, what})  polls fn until it returns a truthy value
//   uniq(prefix?)                a name no other test uses
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the integration tests through tests/run`);
  return v;
}

export const env = {
  get src() { return need('PD_SRC'); },
  get build() { return need('PD_BUILD'); },
  get tmp() { return need('PD_TMP'); },
  get conf() { return need('PD_CONF'); },
  get http() { return need('PD_HTTP'); },
  get broker() { return need('PD_BROKER'); },
  get brokerAdmin() { return need('PD_BROKER_ADMIN'); },
  get databaseUrl() { return need('PD_DATABASE_URL'); },
  get redisUrl() { return need('PD_REDIS_URL'); },
  get redisPort() { return Number(need('PD_REDIS_PORT')); },
  get stack() { return need('PD_STACK'); },
};

// The environment without PUSHDESK_* (pushdesk.conf overrides), plus extra.
function cleanEnv(extra = {}) {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PUSHDESK_')) e[k] = v;
  return { ...e, ...extra };
}

let counter = 0;
export function uniq(prefix = 't') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

// ctl('org', 'add', 'Acme') -> stdout. A last argument that is an object
// gives options: {input: 'stdin text', env: {PUSHDESK_X: ...}, json: true}.
function ctlArgs(args) {
  let opts = {};
  if (args.length && typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null) {
    opts = args.pop();
  }
  return [opts, ['--config', env.conf, ...(opts.json ? ['--json'] : []), ...args.map(String)]];
}

// ctl without blocking the event loop (sockets keep working meanwhile).
export function ctlAsync(...args) {
  const [opts, argv] = ctlArgs(args);
  return new Promise((resolve, reject) => {
    execFile(`${env.build}/cli/pushdeskctl`, argv, { env: cleanEnv(opts.env), encoding: 'utf8', timeout: 60_000 },
      (err, out, stderr) => {
        if (err) {
          const e = new Error(`pushdeskctl ${args.join(' ')}: ${(stderr || '').trim() || err.message}`);
          e.status = err.code;
          reject(e);
        } else {
          resolve(opts.json ? JSON.parse(out.trim()) : out.trim());
        }
      });
  });
}

export function ctl(...args) {
  const [opts, argv] = ctlArgs(args);
  try {
    const out = execFileSync(`${env.build}/cli/pushdeskctl`, argv, {
      input: opts.input ?? '',
      env: cleanEnv(opts.env),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    }).trim();
    return opts.json ? JSON.parse(out) : out;
  } catch (err) {
    const reason = (err.stderr || '').toString().trim() || err.message;
    const e = new Error(`pushdeskctl ${args.join(' ')}: ${reason}`);
    e.status = err.status;
    e.stderr = (err.stderr || '').toString();
    throw e;
  }
}

export async function api(method, path, body, token, headers = {}) {
  const url = env.http + (path.startsWith('/api/') ? path : `/api/v1${path}`);
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${typeof token === 'object' ? token.token : token}`;
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
  }
  const res = await fetch(url, { method, headers: h, body: payload, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text.length ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed, text, ok: res.ok };
}

export function mkOrg(name = uniq('org')) {
  return ctl('org', 'add', name);
}

export function mkTeam(org, name = uniq('team')) {
  return ctl('team', 'add', '--org', idOf(org), name);
}

function idOf(x) {
  return typeof x === 'object' && x !== null ? x.id : String(x);
}

// mkUser(org, 'agent', {name, email, password, team}) -> the user, with a token.
// password: a string, or false for a user that cannot log in.
export function mkUser(org, role = 'customer', opts = {}) {
  const name = opts.name ?? `${role} ${uniq('u')}`;
  const email = opts.email ?? `${uniq(role)}@test.pushdesk.test`;
  const password = opts.password === false ? null : (opts.password ?? randomBytes(9).toString('base64url'));
  const args = ['user', 'add', '--org', idOf(org), '--role', role, '--name', name, '--email', email];
  if (opts.team) args.push('--team', idOf(opts.team));
  if (password !== null) args.push('--password-stdin');
  const id = ctl(...args, { input: password !== null ? `${password}\n` : '' });
  const user = { id, org: idOf(org), role, name, email, password, team: opts.team ? idOf(opts.team) : null };
  user.token = token(id);
  user.toString = () => id;
  return user;
}

export function token(userId, ttl) {
  const args = ['token', '--user', idOf(userId)];
  if (ttl !== undefined) args.push('--ttl', String(ttl));
  return ctl(...args);
}

// stack('pd_stop_pg') runs a function of tests/lib/stack.sh in bash. A last
// argument that is an object gives options: {env: {PD_DIR: ...}} (variables
// added to the environment; a value null removes one).
export function stack(fn, ...args) {
  let opts = {};
  if (args.length && typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null) opts = args.pop();
  const e = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(e)) if (v === null || v === undefined) delete e[k];
  const quoted = [fn, ...args].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('bash', ['-c', `source "$PD_STACK" && ${quoted}`], {
    env: e,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
}

export async function waitFor(fn, { timeout = 15_000, interval = 200, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
        (last instanceof Error ? `: ${last.message}` : ''));
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// The claims of a JWT, without verifying it.
export function claims(tok) {
  return JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString('utf8'));
}
