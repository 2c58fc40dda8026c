// The API side of the seeds' needs (contract sections 2, 4 and 7): the
// login cookie a browser client connects with, tokens minted by the seeds'
// own systems (workspaceId, userId, CLIENT/FREELANCER/ADMIN), GET /presence
// listing who is online (made online by a real socket.io-client), GET
// /messages?unread=1 with the ticket visibility rule, and POST /emit to free
// rooms and to the alias rooms ws:/conv:/role:, checked on the adapter wire
// and, where the broker delivers them, at a real socket.io-client.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { ctl } from './lib/pd.mjs';
import { HTTP, api, conf, mkOrg, mkUser, mkWorld, redisClient, requireNode, sleep, sql, subscriber, token, waitFor } from './api_lib.mjs';

const { io } = requireNode('socket.io-client');
const KEY = conf('adapter_key', 'socket.io') || 'socket.io';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const w = mkWorld();
const other = mkWorld();
let sub;
const sockets = new Set();

async function clearAddrLimit() {
  const rc = await redisClient();
  await rc.del(`${KEY}:ratelimit:login:addr:127.0.0.1`);
  await rc.quit();
}

before(async () => {
  sub = await subscriber();
});
beforeEach(clearAddrLimit);
after(async () => {
  for (const s of sockets) s.close();
  await sub.close();
  await clearAddrLimit();
});

function err(r, status, code, re) {
  assert.equal(r.status, status, `${status} expected, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.error?.code, code, r.text);
  if (re) assert.match(r.json.error.message, re);
}

// A token as another system signs it: any claims, the stack's secret.
function foreignToken(claims, { ttl = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const c = { iat: now, exp: now + ttl, ...claims };
  const iss = conf('jwt_issuer'), aud = conf('jwt_audience');
  if (iss) c.iss = iss;
  if (aud) c.aud = aud;
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b({ alg: 'HS256', typ: 'JWT' });
  const body = b(c);
  const sig = createHmac('sha256', conf('jwt_secret')).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// A connected socket.io-client socket through nginx, recording events.
async function connect(opts) {
  const s = io(HTTP + (opts.nsp || '/'), {
    forceNew: true, reconnection: false, timeout: 10000, transports: ['websocket'], ...opts,
  });
  sockets.add(s);
  s.log = [];
  s.onAny((event, ...args) => s.log.push({ event, args }));
  await new Promise((res, rej) => {
    s.once('connect', res);
    s.once('connect_error', (e) => rej(new Error(`connect_error ${e.message}`)));
  });
  return s;
}
const connectAs = (u) => connect({ auth: { token: u.tok } });

function close(s) {
  s.close();
  sockets.delete(s);
}

// The first received `event` whose payload matches pred (waits up to ms).
async function next(s, event, pred = () => true, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const e = s.log.find((x) => x.event === event && pred(x.args[0]));
    if (e) return e.args[0];
    if (Date.now() > deadline) throw new Error(`no ${event} within ${ms} ms; got ${JSON.stringify(s.log.map((x) => x.event))}`);
    await sleep(50);
  }
}

const ack = (s, event, ...args) => new Promise((res) => s.emit(event, ...args, res));

// ---- section 2: the login cookie ---------------------------------------------

test('POST /auth/login sets the token as an HttpOnly SameSite=Lax cookie; a client sending only that cookie connects', async () => {
  const email = `cookie-${randomUUID()}@x.test`;
  let r = await api('POST', '/users', { name: 'Cookie Monster', email, role: 'agent', password: 'correct horse' }, w.admin.tok);
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  r = await api('POST', '/auth/login', { email, password: 'correct horse' });
  assert.equal(r.status, 200, r.text);
  const set = r.headers.getSetCookie();
  assert.equal(set.length, 1, JSON.stringify(set));
  const parts = set[0].split(';').map((p) => p.trim());
  const name = conf('token_cookie', 'pushdesk_token') || 'pushdesk_token';
  assert.equal(parts[0], `${name}=${r.json.access_token}`);
  const attrs = parts.slice(1).map((p) => p.toLowerCase());
  assert.ok(attrs.includes('httponly'), set[0]);
  assert.ok(attrs.includes('samesite=lax'), set[0]);
  assert.ok(attrs.includes('path=/'), set[0]);
  assert.ok(attrs.includes(`max-age=${r.json.expires_in}`), set[0]);
  assert.ok(!attrs.includes('secure'), 'no Secure over plain http');
  // the broker takes it at the handshake, without auth.token (section 2)
  const s = await connect({ extraHeaders: { Cookie: parts[0] } });
  s.emit('presence:ping');
  // the broker writes the user's presence after its CONNECT reply: wait for
  // it (as below for the list) rather than read once
  await waitFor(async () => {
    const online = await api('GET', `/presence?userIds=${id}`, undefined, w.admin.tok);
    return online.json.data[0].status === 'online';
  }, { what: `user ${id} online through the cookie's connection` });
  close(s);
  // a failed login sets nothing
  r = await api('POST', '/auth/login', { email, password: 'wrong horse' });
  assert.equal(r.status, 401);
  assert.deepEqual(r.headers.getSetCookie(), []);
});

// ---- section 2: foreign tokens -------------------------------------------------

test("seed 004's token (sub, workspaceId, no org) and seed 003's roles work on the API", async () => {
  const agent = { sub: w.agent.id, workspaceId: w.org, role: 'FREELANCER' };
  let r = await api('GET', '/me', undefined, foreignToken(agent));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, w.agent.id);
  // the renamed role is the role: an agent sees the org's tickets
  const t1 = (await api('POST', '/tickets', { subject: 'seed 003 one' }, w.customer.tok)).json;
  const t2 = (await api('POST', '/tickets', { subject: 'seed 003 two' }, w.customer2.tok)).json;
  r = await api('GET', '/tickets?limit=100', undefined, foreignToken(agent));
  assert.equal(r.status, 200, r.text);
  const ids = r.json.data.map((t) => t.id);
  assert.ok(ids.includes(t1.id) && ids.includes(t2.id));
  // CLIENT is a customer: own tickets only, and staff-only routes refused
  const client = { userId: w.customer.id, organizationId: w.org, role: 'CLIENT' };
  r = await api('GET', '/tickets?limit=100', undefined, foreignToken(client));
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.every((t) => t.customerId === w.customer.id));
  assert.ok(r.json.data.some((t) => t.id === t1.id));
  err(await api('GET', `/tickets/${t2.id}`, undefined, foreignToken(client)), 404, 'NOT_FOUND');
  err(await api('PATCH', `/tickets/${t1.id}`, { status: 'pending' }, foreignToken(client)), 403, 'FORBIDDEN');
  // ADMIN in capitals is admin
  r = await api('GET', '/users?limit=1', undefined, foreignToken({ sub: w.admin.id, workspaceId: w.org, role: 'ADMIN' }));
  assert.equal(r.status, 200, r.text);
  // org first: a token naming both goes by org
  r = await api('GET', '/me', undefined, foreignToken({ sub: w.agent.id, org: w.org, workspaceId: other.org, role: 'agent' }));
  assert.equal(r.status, 200, r.text);
  // refused: no role, an unknown role, no org, a wrong-typed org claim
  for (const c of [
    { sub: w.agent.id, workspaceId: w.org },
    { sub: w.agent.id, workspaceId: w.org, role: 'OWNER' },
    { sub: w.agent.id, role: 'agent' },
    { sub: w.agent.id, org: 7, workspaceId: w.org, role: 'agent' },
  ])
    err(await api('GET', '/me', undefined, foreignToken(c)), 401, 'UNAUTHORIZED', /invalid token/);
});

test("the broker takes seed 004's token at the handshake (workspaceId, FREELANCER) and puts the socket in its org's rooms", async () => {
  const s = await connect({ auth: { token: foreignToken({ sub: w.agent2.id, workspaceId: w.org, role: 'Freelancer' }) } });
  await waitFor(async () => {
    const r = await api('GET', '/presence', undefined, w.admin.tok);
    return r.json.data.some((u) => u.userId === w.agent2.id);
  }, { what: 'agent2 online in its org' });
  const r = await api('POST', '/emit', { rooms: [`agents:${w.org}`], event: 'staff:hello', data: { n: 1 } }, w.admin.tok);
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(await next(s, 'staff:hello'), { n: 1 });
  close(s);
});

// ---- section 4: GET /presence --------------------------------------------------

test('GET /presence without userIds: the org online now, paged by cursor; lastSeen ISO 8601 everywhere', async () => {
  const org = mkOrg();
  const users = [];
  for (let i = 0; i < 3; i++) {
    const u = mkUser(org, i === 0 ? 'customer' : 'agent');
    u.tok = token(u);
    users.push(u);
  }
  const offline = mkUser(org, 'agent');
  sql(`UPDATE users SET last_seen_at = '2026-01-02T03:04:05.678Z' WHERE id = :'id'`, { id: offline.id });
  const outsider = await connectAs(other.agent);
  let r = await api('GET', '/presence', undefined, users[0].tok);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { data: [], nextCursor: null });
  const socks = [];
  for (const u of users) socks.push(await connectAs(u));
  const want = users.map((u) => u.id).sort();
  const all = await waitFor(async () => {
    const x = await api('GET', '/presence?limit=100', undefined, users[0].tok);
    return x.json.data.length === 3 ? x.json : null;
  }, { what: 'three users online' });
  assert.deepEqual(all.data.map((u) => u.userId), want, 'ordered by user id');
  assert.equal(all.nextCursor, null);
  for (const u of all.data) {
    assert.deepEqual(Object.keys(u).sort(), ['lastSeen', 'status', 'userId']);
    assert.equal(u.status, 'online');
    assert.match(u.lastSeen, ISO);
    assert.ok(Math.abs(Date.parse(u.lastSeen) - Date.now()) < 120000, u.lastSeen);
  }
  assert.ok(!all.data.some((u) => u.userId === other.agent.id), 'another org is not listed');
  // pushdeskctl online reads the same keys and spells lastSeen the same way
  const listed = ctl('online', '--org', org, { json: true });
  assert.deepEqual(listed.map((u) => u.userId).sort(), want);
  for (const u of listed) assert.match(u.lastSeen, ISO);
  assert.match(ctl('online', '--org', org).split('\n')[1], /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // pages of 2, then 1: together the whole set, each once
  const p1 = await api('GET', '/presence?limit=2', undefined, users[1].tok);
  assert.equal(p1.json.data.length, 2);
  assert.equal(typeof p1.json.nextCursor, 'string');
  const p2 = await api('GET', `/presence?limit=2&cursor=${p1.json.nextCursor}`, undefined, users[1].tok);
  assert.equal(p2.json.data.length, 1);
  assert.equal(p2.json.nextCursor, null);
  assert.deepEqual([...p1.json.data, ...p2.json.data].map((u) => u.userId), want);
  // a status set on the socket shows
  socks[1].emit('presence:status', { status: 'busy' });
  await waitFor(async () => {
    const x = await api('GET', '/presence', undefined, users[0].tok);
    return x.json.data.find((u) => u.userId === users[1].id)?.status === 'busy';
  }, { what: 'busy in the list' });
  // userIds: ISO lastSeen from Valkey, and from the database for one never connected
  r = await api('GET', `/presence?userIds=${users[2].id},${offline.id}`, undefined, users[0].tok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data[0].status, 'online');
  assert.match(r.json.data[0].lastSeen, ISO);
  assert.deepEqual(r.json.data[1], { userId: offline.id, status: 'offline', lastSeen: '2026-01-02T03:04:05.678Z' });
  // gone: out of the list; its lastSeen is still a time
  close(socks[2]);
  await waitFor(async () => {
    const x = await api('GET', '/presence', undefined, users[0].tok);
    return x.json.data.length === 2 && !x.json.data.some((u) => u.userId === users[2].id);
  }, { what: 'the closed socket to leave the list' });
  r = await api('GET', `/presence?userIds=${users[2].id}`, undefined, users[0].tok);
  assert.equal(r.json.data[0].status, 'offline');
  assert.match(r.json.data[0].lastSeen, ISO);
  // bad input
  err(await api('GET', '/presence?cursor=nope', undefined, users[0].tok), 400, 'BAD_REQUEST', /cursor/);
  err(await api('GET', '/presence?limit=0', undefined, users[0].tok), 400, 'BAD_REQUEST', /limit/);
  err(await api('GET', '/presence?userIds=,', undefined, users[0].tok), 400, 'BAD_REQUEST', /userIds/);
  err(await api('GET', '/presence?userIds=nope', undefined, users[0].tok), 400, 'BAD_REQUEST', /userIds/);
  // an empty value is no filter, as everywhere in the API ("?status=")
  assert.equal((await api('GET', '/presence?userIds=', undefined, users[0].tok)).json.data.length, 2);
  err(await api('GET', '/presence'), 401, 'UNAUTHORIZED');
  for (const s of socks) close(s);
  close(outsider);
});

// ---- section 4: GET /messages?unread=1 -----------------------------------------

test('GET /messages?unread=1: messages of visible tickets, by others, unread by the caller, oldest first, paged', async () => {
  const v = mkWorld();
  const post = async (t, u, content) => {
    const r = await api('POST', `/tickets/${t.id}/messages`, { content }, u.tok);
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const mine = (await api('POST', '/tickets', { subject: 'mine' }, v.customer.tok)).json;
  const theirs = (await api('POST', '/tickets', { subject: 'theirs' }, v.customer2.tok)).json;
  const m1 = await post(mine, v.agent, 'agent to customer 1');
  const own = await post(mine, v.customer, 'customer own');
  const m2 = await post(theirs, v.agent, 'agent to customer2');
  const m3 = await post(mine, v.admin, 'admin to customer');
  const m4 = await post(theirs, v.customer2, 'customer2 says');
  const ids = (r) => r.json.data.map((m) => m.id);

  // the customer: their own ticket only, not their own message
  let r = await api('GET', '/messages?unread=1', undefined, v.customer.tok);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r), [m1.id, m3.id]);
  assert.equal(r.json.nextCursor, null);
  assert.deepEqual(Object.keys(r.json.data[0]).sort(), ['content', 'createdAt', 'id', 'senderId', 'senderName', 'senderRole', 'ticketId', 'updatedAt'].sort());
  assert.match(r.json.data[0].createdAt, ISO);
  // the agent: every ticket of the org, others' messages
  r = await api('GET', '/messages?unread=1', undefined, v.agent.tok);
  assert.deepEqual(ids(r), [own.id, m3.id, m4.id]);
  // another org sees none of it
  r = await api('GET', '/messages?unread=1', undefined, other.agent.tok);
  assert.ok(!ids(r).some((id) => [m1.id, m2.id, m3.id, m4.id, own.id].includes(id)));
  // read receipts (as the broker stores them) take a message out, for that reader only
  sql(`INSERT INTO message_reads (message_id, user_id) VALUES (:'m', :'u')`, { m: m1.id, u: v.customer.id });
  r = await api('GET', '/messages?unread=1', undefined, v.customer.tok);
  assert.deepEqual(ids(r), [m3.id]);
  r = await api('GET', '/messages?unread=1', undefined, v.customer2.tok);
  assert.deepEqual(ids(r), [m2.id]);
  // pages
  r = await api('GET', '/messages?unread=1&limit=2', undefined, v.agent.tok);
  assert.deepEqual(ids(r), [own.id, m3.id]);
  assert.equal(r.json.nextCursor, m3.id);
  r = await api('GET', `/messages?unread=1&limit=2&cursor=${r.json.nextCursor}`, undefined, v.agent.tok);
  assert.deepEqual(ids(r), [m4.id]);
  assert.equal(r.json.nextCursor, null);
  r = await api('GET', `/messages?unread=1&after=${own.id}`, undefined, v.agent.tok);
  assert.deepEqual(ids(r), [m3.id, m4.id]);
  // bad input
  err(await api('GET', '/messages', undefined, v.agent.tok), 400, 'BAD_REQUEST', /unread/);
  err(await api('GET', '/messages?unread=0', undefined, v.agent.tok), 400, 'BAD_REQUEST', /unread/);
  err(await api('GET', '/messages?unread=1&cursor=x', undefined, v.agent.tok), 400, 'BAD_REQUEST', /cursor/);
  err(await api('GET', '/messages?unread=1&limit=abc', undefined, v.agent.tok), 400, 'BAD_REQUEST', /limit/);
  err(await api('GET', '/messages?unread=1'), 401, 'UNAUTHORIZED');
});

// ---- section 4 and 7: POST /emit, free rooms and alias rooms -------------------

test('POST /emit to a free room: published to free:<org>:<name>, so two orgs using one name never meet', async () => {
  sub.clear();
  let r = await api('POST', '/emit', { rooms: ['project:123'], event: 'project:update', data: { v: 1 } }, w.admin.tok);
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json.rooms, [`free:${w.org}:project:123`]);
  r = await api('POST', '/emit', { rooms: ['project:123', 'lobby'], except: ['lobby-muted'], event: 'project:update', data: { v: 2 } }, other.service.tok);
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json.rooms, [`free:${other.org}:project:123`, `free:${other.org}:lobby`]);
  const got = await sub.wait((m) => m.event === 'project:update', 2);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0].rooms, [`free:${w.org}:project:123`]);
  assert.equal(got[0].channel, `${KEY}#/#free:${w.org}:project:123#`);
  assert.deepEqual(got[0].payload, { v: 1 });
  assert.deepEqual(got[1].rooms, [`free:${other.org}:project:123`, `free:${other.org}:lobby`]);
  assert.deepEqual(got[1].except, [`free:${other.org}:lobby-muted`]);
});

test('POST /emit to ws:<org>, conv:<id>, role:<role> reaches the sockets of agents:<org>, ticket:<id>, role:<org>:<role>', async () => {
  const t = (await api('POST', '/tickets', { subject: 'aliases' }, w.customer.tok)).json;
  const agent = await connectAs(w.agent);
  const customer = await connectAs(w.customer);
  const admin = await connectAs(w.admin);
  const outsider = await connectAs(other.agent);
  assert.deepEqual(await ack(customer, 'ticket:join', t.id), { ok: true });
  const emit = async (rooms, event, want) => {
    const r = await api('POST', '/emit', { rooms, event, data: { event } }, w.service.tok);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.rooms, want);
  };
  await emit([`ws:${w.org}`], 'ws:event', [`agents:${w.org}`]);
  await emit([`conv:${t.id.toUpperCase()}`], 'conv:event', [`ticket:${t.id}`]);
  await emit(['role:agent'], 'role:event', [`role:${w.org}:agent`]);
  // an alias and its room named together: sent once
  await emit([`ws:${w.org}`, `agents:${w.org}`], 'twice:event', [`agents:${w.org}`]);
  assert.deepEqual(await next(agent, 'ws:event'), { event: 'ws:event' });
  assert.deepEqual(await next(admin, 'ws:event'), { event: 'ws:event' });
  assert.deepEqual(await next(customer, 'conv:event'), { event: 'conv:event' });
  assert.deepEqual(await next(agent, 'role:event'), { event: 'role:event' });
  await next(agent, 'twice:event');
  await sleep(500);
  const count = (s, e) => s.log.filter((x) => x.event === e).length;
  assert.equal(count(customer, 'ws:event'), 0, 'the staff room is not the customer\'s');
  assert.equal(count(agent, 'conv:event'), 0, 'not in the ticket room');
  assert.equal(count(admin, 'role:event'), 0, 'role:agent is not the admin\'s');
  assert.equal(count(customer, 'role:event'), 0);
  assert.equal(count(agent, 'twice:event'), 1);
  const emitted = ['ws:event', 'conv:event', 'role:event', 'twice:event'];
  assert.deepEqual(outsider.log.filter((x) => emitted.includes(x.event)), [], 'another org gets none');
  // another org's, and reserved names that cannot be named
  for (const room of [`ws:${other.org}`, `role:${other.org}:agent`, 'presence:x', `free:${w.org}:x`, 'role:god'])
    err(await api('POST', '/emit', { event: 'x', rooms: [room] }, w.admin.tok), 403, 'FORBIDDEN', /rooms\[0\]/);
  const ot = (await api('POST', '/tickets', { subject: 'other' }, other.customer.tok)).json;
  err(await api('POST', '/emit', { event: 'x', rooms: [`conv:${ot.id}`] }, w.admin.tok), 404, 'NOT_FOUND', /rooms\[0\]/);
  err(await api('POST', '/emit', { event: 'x', rooms: ['ok', 'bad\u0001name'] }, w.admin.tok), 400, 'BAD_REQUEST', /rooms\[1\]/);
  err(await api('POST', '/emit', { event: 'x', except: [`org:${other.org}`] }, w.admin.tok), 403, 'FORBIDDEN', /except\[0\]/);
  for (const s of [agent, customer, admin, outsider]) close(s);
});

test('pushdeskctl emit --room ws:<org> / conv:<id> publishes to agents:<org> / ticket:<id>, which the sockets are in', async () => {
  const t = (await api('POST', '/tickets', { subject: 'ctl aliases' }, w.customer.tok)).json;
  const agent = await connectAs(w.agent);
  sub.clear();
  ctl('emit', '--room', `ws:${w.org}`, '--room', `conv:${t.id}`, '--user', w.customer.id, 'handoff_triggered', JSON.stringify({ conversationId: t.id }));
  const [m] = await sub.wait((x) => x.event === 'handoff_triggered', 1);
  assert.ok(m, 'published');
  assert.deepEqual(m.rooms, [`agents:${w.org}`, `ticket:${t.id}`, `user:${w.customer.id}`]);
  assert.deepEqual(await next(agent, 'handoff_triggered'), { conversationId: t.id });
  close(agent);
});
