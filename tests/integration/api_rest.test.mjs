// pushdesk-api through nginx: every endpoint of contract section 4, its
// access rules and its 400/401/403/404/405/409/413/415/429 answers.
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, conf, mkOrg, mkTeam, mkUser, mkWorld, redisClient, sql, stack, token } from './api_lib.mjs';

const w = mkWorld();
const other = mkWorld(); // another org

// Failed logins from 127.0.0.1 count against the per-address limit
// (login_rate); every test runs from that address, so start each test, and
// leave, with a clean address counter.
async function clearAddrLimit() {
  const rc = await redisClient();
  const key = conf('adapter_key', 'socket.io') || 'socket.io';
  await rc.del(`${key}:ratelimit:login:addr:127.0.0.1`);
  await rc.quit();
}
beforeEach(clearAddrLimit);
after(clearAddrLimit);

function err(r, status, code, re) {
  assert.equal(r.status, status, `${status} expected, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  if (typeof re === 'string') assert.equal(r.json.error.message, re, r.text);
  else if (re) assert.match(r.json.error.message, re, r.text);
}

async function mkTicket(tok = w.customer.tok, body = { subject: 'Help ' + randomUUID() }) {
  const r = await api('POST', '/tickets', body, tok);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('GET /health: 200 {db, valkey} without a token', async () => {
  const r = await api('GET', '/health');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { db: 'ok', valkey: 'ok' });
});

test('unknown path 404, known path with a wrong method 405 + Allow', async () => {
  err(await api('GET', '/nope', undefined, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('GET', '/tickets/x/y/z', undefined, w.admin.tok), 404, 'NOT_FOUND');
  let r = await api('DELETE', '/tickets', undefined, w.admin.tok);
  err(r, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(r.headers.get('allow'), 'GET, POST');
  r = await api('PUT', `/tickets/${randomUUID()}`, { subject: 'x' }, w.admin.tok);
  err(r, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(r.headers.get('allow'), 'GET, PATCH');
  r = await api('GET', '/notifications/read-all', undefined, w.admin.tok);
  err(r, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(r.headers.get('allow'), 'POST');
  r = await api('GET', '/auth/login');
  assert.equal(r.headers.get('allow'), 'POST');
});

test('401: missing, malformed, badly signed, expired, alg none', async () => {
  err(await api('GET', '/me'), 401, 'UNAUTHORIZED');
  err(await api('GET', '/me', undefined, 'garbage'), 401, 'UNAUTHORIZED');
  err(await api('GET', '/me', undefined, token(w.agent, { secret: 'wrong' })), 401, 'UNAUTHORIZED');
  err(await api('GET', '/me', undefined, token(w.agent, { iat: 1000, ttl: 10 })), 401, 'UNAUTHORIZED', /expired/);
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const none = `${b({ alg: 'none', typ: 'JWT' })}.${b({ sub: w.agent.id, org: w.org, role: 'admin', exp: 9999999999 })}.`;
  err(await api('GET', '/me', undefined, none), 401, 'UNAUTHORIZED');
  err(await api('GET', '/tickets', undefined, none), 401, 'UNAUTHORIZED');
  const r = await api('GET', '/me', undefined, undefined, { authorization: 'Basic dTpw' });
  err(r, 401, 'UNAUTHORIZED');
});

test('GET /me returns the caller', async () => {
  const r = await api('GET', '/me', undefined, w.agent.tok);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, w.agent.id);
  assert.equal(r.json.orgId, w.org);
  assert.equal(r.json.role, 'agent');
  assert.equal(r.json.email, w.agent.email);
  assert.equal(r.json.password_hash, undefined);
});

test('POST /users (admin): 201, 400 naming fields, 403, 409; GET /users lists the org only', async () => {
  const team = mkTeam(w.org);
  const email = `new-${randomUUID()}@x.test`;
  let r = await api('POST', '/users', { name: 'New Agent', email, role: 'agent', password: 'longenough', teamId: team }, w.admin.tok);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.email, email);
  assert.equal(r.json.teamId, team);
  assert.equal(r.json.orgId, w.org);
  const hash = sql(`SELECT password_hash FROM users WHERE id = :'id'`, { id: r.json.id })[0][0];
  assert.match(hash, /^\$argon2id\$/);
  err(await api('POST', '/users', { name: 'Dup', email: email.toUpperCase(), role: 'agent' }, w.admin.tok), 409, 'CONFLICT', /email/);
  err(await api('POST', '/users', { name: 'X', email: 'x@y.z', role: 'agent' }, w.agent.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/users', { name: 'X', email: 'x@y.z', role: 'agent' }, w.service.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/users', { name: 'X', email: 'x@y.z', role: 'god' }, w.admin.tok), 400, 'BAD_REQUEST', /^role/);
  err(await api('POST', '/users', { name: '', email: 'x@y.z', role: 'agent' }, w.admin.tok), 400, 'BAD_REQUEST', /^name/);
  err(await api('POST', '/users', { name: 'X', email: 'nope', role: 'agent' }, w.admin.tok), 400, 'BAD_REQUEST', /^email/);
  err(await api('POST', '/users', { name: 'X', email: 'x@y.z', role: 'agent', password: 'short' }, w.admin.tok), 400, 'BAD_REQUEST', /^password/);
  err(await api('POST', '/users', { name: 'X', email: 'x@y.z', role: 'agent', admin: true }, w.admin.tok), 400, 'BAD_REQUEST', /unknown field: admin/);
  err(await api('POST', '/users', { name: 'X', email: `t-${randomUUID()}@y.z`, role: 'agent', teamId: mkTeam(other.org) }, w.admin.tok), 400, 'BAD_REQUEST', /^teamId/);

  r = await api('GET', '/users?limit=2', undefined, w.admin.tok);
  assert.equal(r.status, 200);
  assert.equal(r.json.data.length, 2);
  assert.equal(typeof r.json.nextCursor, 'string');
  const seen = new Set(r.json.data.map((u) => u.id));
  let cursor = r.json.nextCursor;
  while (cursor) {
    const p = await api('GET', `/users?limit=2&cursor=${encodeURIComponent(cursor)}`, undefined, w.admin.tok);
    assert.equal(p.status, 200);
    for (const u of p.json.data) {
      assert.ok(!seen.has(u.id), 'pages do not overlap');
      seen.add(u.id);
    }
    cursor = p.json.nextCursor;
  }
  const inOrg = sql(`SELECT count(*) FROM users WHERE org_id = :'o'`, { o: w.org })[0][0];
  assert.equal(seen.size, Number(inOrg));
  assert.ok(!seen.has(other.admin.id));
  err(await api('GET', '/users', undefined, w.agent.tok), 403, 'FORBIDDEN');
  err(await api('GET', '/users?cursor=bogus', undefined, w.admin.tok), 400, 'BAD_REQUEST', /cursor/);
  err(await api('GET', '/users?limit=0', undefined, w.admin.tok), 400, 'BAD_REQUEST', /limit/);
});

test('POST /auth/login: token for right credentials, same 401 for wrong password and unknown email', async () => {
  const email = `login-${randomUUID()}@x.test`;
  let r = await api('POST', '/users', { name: 'Log In', email, role: 'customer', password: 'correct horse' }, w.admin.tok);
  assert.equal(r.status, 201);
  const id = r.json.id;
  r = await api('POST', '/auth/login', { email: email.toUpperCase(), password: 'correct horse' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(r.json.expires_in, Number(conf('token_ttl', '3600')));
  const me = await api('GET', '/me', undefined, r.json.access_token);
  assert.equal(me.status, 200);
  assert.equal(me.json.id, id);
  const claims = JSON.parse(Buffer.from(r.json.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.role, 'customer');
  assert.equal(claims.org, w.org);

  const t0 = Date.now();
  const bad = await api('POST', '/auth/login', { email, password: 'wrong horse' });
  const t1 = Date.now();
  const unknown = await api('POST', '/auth/login', { email: `nobody-${randomUUID()}@x.test`, password: 'whatever' });
  const t2 = Date.now();
  err(bad, 401, 'UNAUTHORIZED');
  err(unknown, 401, 'UNAUTHORIZED');
  assert.equal(bad.json.error.message, unknown.json.error.message);
  // Both verify an argon2id hash: neither answers in a few milliseconds.
  assert.ok(t2 - t1 > (t1 - t0) / 4, `unknown e-mail ${t2 - t1} ms vs wrong password ${t1 - t0} ms`);

  err(await api('POST', '/auth/login', { email }), 400, 'BAD_REQUEST', /^password/);
  err(await api('POST', '/auth/login', { email, password: 'x', extra: 1 }), 400, 'BAD_REQUEST', /unknown field/);
  err(await api('POST', '/auth/login', { email: 5, password: 'x' }), 400, 'BAD_REQUEST', /^email/);
});

test('POST /auth/login: per-account limit -> 429 with Retry-After; counters in Valkey', async () => {
  const rc = await redisClient();
  const key = conf('adapter_key', 'socket.io') || 'socket.io';
  const [n, secs] = conf('login_rate', '10/300').split('/').map(Number);
  const email = `limited-${randomUUID()}@x.test`;
  try {
    // One real failed attempt counts for the account and the address.
    let r = await api('POST', '/auth/login', { email, password: 'nope' });
    err(r, 401, 'UNAUTHORIZED');
    assert.equal(await rc.get(`${key}:ratelimit:login:account:${email}`), '1');
    const ttl = await rc.ttl(`${key}:ratelimit:login:account:${email}`);
    assert.ok(ttl > 0 && ttl <= secs, `ttl ${ttl}`);
    // Bring the account to its limit without touching the address counter.
    await rc.set(`${key}:ratelimit:login:account:${email}`, String(n), { EX: secs });
    r = await api('POST', '/auth/login', { email, password: 'nope' });
    err(r, 429, 'RATE_LIMITED');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= secs, `Retry-After ${r.headers.get('retry-after')}`);
  } finally {
    await rc.del(`${key}:ratelimit:login:account:${email}`);
    await rc.quit();
  }
});

test('tickets: create (201), get, list with filters and cursor pagination, customers see their own', async () => {
  const mine = [];
  for (let i = 0; i < 5; i++) mine.push(await mkTicket(w.customer.tok, { subject: `T${i}`, priority: i % 2 ? 'high' : 'low' }));
  const theirs = await mkTicket(w.customer2.tok);
  const t = mine[0];
  assert.equal(t.status, 'open');
  assert.equal(t.priority, 'low');
  assert.equal(t.customerId, w.customer.id);
  assert.equal(t.assigneeId, null);
  assert.match(t.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // staff create on behalf of a customer
  let r = await api('POST', '/tickets', { subject: 'by agent', customerId: w.customer.id }, w.agent.tok);
  assert.equal(r.status, 201);
  assert.equal(r.json.customerId, w.customer.id);
  mine.push(r.json);
  err(await api('POST', '/tickets', { subject: 'x', customerId: w.customer2.id }, w.customer.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/tickets', { subject: 'x', customerId: other.customer.id }, w.agent.tok), 400, 'BAD_REQUEST', /customerId/);
  err(await api('POST', '/tickets', { subject: 'x' }, w.service.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/tickets', { subject: '' }, w.customer.tok), 400, 'BAD_REQUEST', 'subject must be a string of 1..500 characters');
  err(await api('POST', '/tickets', { subject: 'x'.repeat(501) }, w.customer.tok), 400, 'BAD_REQUEST', /^subject/);
  err(await api('POST', '/tickets', { subject: 42 }, w.customer.tok), 400, 'BAD_REQUEST', /^subject/);
  err(await api('POST', '/tickets', { subject: 'x', status: 'closed' }, w.customer.tok), 400, 'BAD_REQUEST', /unknown field: status/);
  err(await api('POST', '/tickets', { subject: 'x', priority: 'meh' }, w.customer.tok), 400, 'BAD_REQUEST', /^priority/);

  r = await api('GET', `/tickets/${t.id}`, undefined, w.customer.tok);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, t);
  err(await api('GET', `/tickets/${t.id}`, undefined, w.customer2.tok), 404, 'NOT_FOUND');
  err(await api('GET', `/tickets/${t.id}`, undefined, other.admin.tok), 404, 'NOT_FOUND');
  err(await api('GET', `/tickets/${randomUUID()}`, undefined, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('GET', `/tickets/not-a-uuid`, undefined, w.admin.tok), 404, 'NOT_FOUND');

  // customer: only their own, newest first
  r = await api('GET', '/tickets', undefined, w.customer.tok);
  assert.equal(r.status, 200);
  assert.ok(r.json.data.every((x) => x.customerId === w.customer.id));
  assert.ok(!r.json.data.some((x) => x.id === theirs.id));
  const ids = r.json.data.map((x) => x.id);
  assert.deepEqual(ids.slice(0, 6), mine.map((x) => x.id).reverse());

  // pagination: limit 2 walks every ticket once, in order
  const walked = [];
  let cursor = null;
  do {
    const q = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
    const p = await api('GET', '/tickets' + q, undefined, w.agent.tok);
    assert.equal(p.status, 200);
    assert.ok(p.json.data.length <= 2);
    walked.push(...p.json.data);
    cursor = p.json.nextCursor;
  } while (cursor);
  const all = await api('GET', '/tickets?limit=100', undefined, w.agent.tok);
  assert.deepEqual(walked.map((x) => x.id), all.json.data.map((x) => x.id));
  assert.equal(all.json.nextCursor, null);
  assert.equal(walked.length, Number(sql(`SELECT count(*) FROM tickets WHERE org_id = :'o'`, { o: w.org })[0][0]));
  assert.ok(!walked.some((x) => x.id === other.admin.id));
  for (let i = 1; i < walked.length; i++) assert.ok(walked[i - 1].createdAt >= walked[i].createdAt);

  // empty filters (as in ?status=&assigneeId=) filter nothing
  r = await api('GET', '/tickets?status=&assigneeId=&limit=&cursor=', undefined, w.customer.tok);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.map((x) => x.id).slice(0, 6), mine.map((x) => x.id).reverse());
  // limit over 100 is capped, bad values refused
  for (let i = 0; i < 100; i++) await api('POST', '/tickets', { subject: `bulk ${i}` }, w.customer2.tok);
  r = await api('GET', '/tickets?limit=1000', undefined, w.agent.tok);
  assert.equal(r.status, 200);
  assert.equal(r.json.data.length, 100, 'limit capped at 100');
  assert.equal(typeof r.json.nextCursor, 'string');
  r = await api('GET', '/tickets', undefined, w.agent.tok);
  assert.equal(r.json.data.length, 50, 'default limit 50');
  err(await api('GET', '/tickets?limit=abc', undefined, w.agent.tok), 400, 'BAD_REQUEST', /limit/);
  err(await api('GET', '/tickets?status=weird', undefined, w.agent.tok), 400, 'BAD_REQUEST', /status/);
  err(await api('GET', '/tickets?assigneeId=nope', undefined, w.agent.tok), 400, 'BAD_REQUEST', /assigneeId/);
  err(await api('GET', '/tickets?cursor=%00%01', undefined, w.agent.tok), 400, 'BAD_REQUEST', /cursor/);

  // filters
  await api('PATCH', `/tickets/${mine[1].id}`, { status: 'pending', assigneeId: w.agent2.id }, w.admin.tok);
  r = await api('GET', `/tickets?assigneeId=${w.agent2.id}`, undefined, w.agent.tok);
  assert.deepEqual(r.json.data.map((x) => x.id), [mine[1].id]);
  r = await api('GET', `/tickets?status=pending&limit=100`, undefined, w.agent.tok);
  assert.ok(r.json.data.some((x) => x.id === mine[1].id));
  assert.ok(r.json.data.every((x) => x.status === 'pending'));

  // the other org sees none of them
  r = await api('GET', '/tickets?limit=100', undefined, other.admin.tok);
  assert.ok(!r.json.data.some((x) => x.orgId === w.org));
});

test('PATCH /tickets/{id}: staff only, fields validated, assignee must be staff of the org', async () => {
  const t = await mkTicket();
  let r = await api('PATCH', `/tickets/${t.id}`, { subject: 'renamed', priority: 'urgent', status: 'resolved' }, w.agent.tok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.subject, 'renamed');
  assert.equal(r.json.priority, 'urgent');
  assert.equal(r.json.status, 'resolved');
  assert.equal(r.json.updatedBy, w.agent.id);
  r = await api('PATCH', `/tickets/${t.id}`, { assigneeId: w.agent.id }, w.admin.tok);
  assert.equal(r.json.assigneeId, w.agent.id);
  r = await api('PATCH', `/tickets/${t.id}`, { assigneeId: null }, w.admin.tok);
  assert.equal(r.json.assigneeId, null);
  err(await api('PATCH', `/tickets/${t.id}`, { status: 'open' }, w.customer.tok), 403, 'FORBIDDEN');
  err(await api('PATCH', `/tickets/${t.id}`, { status: 'open' }, w.service.tok), 403, 'FORBIDDEN');
  err(await api('PATCH', `/tickets/${t.id}`, { status: 'open' }, other.agent.tok), 404, 'NOT_FOUND');
  err(await api('PATCH', `/tickets/${t.id}`, {}, w.agent.tok), 400, 'BAD_REQUEST');
  err(await api('PATCH', `/tickets/${t.id}`, { status: 'done' }, w.agent.tok), 400, 'BAD_REQUEST', /^status must be one of open, pending, resolved, closed/);
  err(await api('PATCH', `/tickets/${t.id}`, { assigneeId: w.customer.id }, w.agent.tok), 400, 'BAD_REQUEST', /^assigneeId/);
  err(await api('PATCH', `/tickets/${t.id}`, { assigneeId: other.agent.id }, w.agent.tok), 400, 'BAD_REQUEST', /^assigneeId/);
  err(await api('PATCH', `/tickets/${t.id}`, { customerId: w.customer2.id }, w.agent.tok), 400, 'BAD_REQUEST', /unknown field/);
  r = await api('GET', `/tickets/${t.id}`, undefined, w.customer.tok);
  assert.equal(r.json.subject, 'renamed', 'refused patches changed nothing');
});

test('messages: participants post and list oldest first with after; only the sender edits', async () => {
  const t = await mkTicket();
  const posted = [];
  for (const [who, text] of [[w.customer, 'one'], [w.agent, 'two'], [w.customer, 'three'], [w.admin, 'four']]) {
    const r = await api('POST', `/tickets/${t.id}/messages`, { content: text }, who.tok);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.senderId, who.id);
    assert.equal(r.json.senderName, who.name);
    assert.equal(r.json.senderRole, who.role);
    assert.equal(r.json.ticketId, t.id);
    posted.push(r.json);
  }
  let r = await api('GET', `/tickets/${t.id}/messages`, undefined, w.customer.tok);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data.map((m) => m.content), ['one', 'two', 'three', 'four']);
  assert.equal(r.json.nextCursor, null);
  r = await api('GET', `/tickets/${t.id}/messages?after=${posted[1].id}`, undefined, w.agent.tok);
  assert.deepEqual(r.json.data.map((m) => m.content), ['three', 'four']);
  r = await api('GET', `/tickets/${t.id}/messages?limit=3`, undefined, w.agent.tok);
  assert.equal(r.json.data.length, 3);
  assert.equal(r.json.nextCursor, posted[2].id);
  r = await api('GET', `/tickets/${t.id}/messages?after=${r.json.nextCursor}`, undefined, w.agent.tok);
  assert.deepEqual(r.json.data.map((m) => m.content), ['four']);
  err(await api('GET', `/tickets/${t.id}/messages?after=${randomUUID()}`, undefined, w.agent.tok), 400, 'BAD_REQUEST', /^after/);
  err(await api('GET', `/tickets/${t.id}/messages?after=zzz`, undefined, w.agent.tok), 400, 'BAD_REQUEST', /^after/);

  err(await api('GET', `/tickets/${t.id}/messages`, undefined, w.customer2.tok), 404, 'NOT_FOUND');
  err(await api('POST', `/tickets/${t.id}/messages`, { content: 'sneaky' }, w.customer2.tok), 404, 'NOT_FOUND');
  err(await api('GET', `/tickets/${t.id}/messages`, undefined, other.agent.tok), 404, 'NOT_FOUND');
  err(await api('POST', `/tickets/${t.id}/messages`, { content: 'sneaky' }, other.admin.tok), 404, 'NOT_FOUND');
  err(await api('POST', `/tickets/${t.id}/messages`, { content: '' }, w.customer.tok), 400, 'BAD_REQUEST', /^content/);
  err(await api('POST', `/tickets/${t.id}/messages`, { content: 'x'.repeat(20001) }, w.customer.tok), 400, 'BAD_REQUEST', /^content/);

  r = await api('PATCH', `/messages/${posted[0].id}`, { content: 'one (edited)' }, w.customer.tok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.content, 'one (edited)');
  assert.ok(r.json.updatedAt);
  err(await api('PATCH', `/messages/${posted[0].id}`, { content: 'hijack' }, w.agent.tok), 403, 'FORBIDDEN');
  err(await api('PATCH', `/messages/${posted[0].id}`, { content: 'hijack' }, w.customer2.tok), 404, 'NOT_FOUND');
  err(await api('PATCH', `/messages/${posted[0].id}`, { content: 'hijack' }, other.admin.tok), 404, 'NOT_FOUND');
  err(await api('PATCH', `/messages/${randomUUID()}`, { content: 'x' }, w.customer.tok), 404, 'NOT_FOUND');
  err(await api('PATCH', `/messages/${posted[0].id}`, { content: 'x', ticketId: t.id }, w.customer.tok), 400, 'BAD_REQUEST', /unknown field/);
  r = await api('GET', `/tickets/${t.id}/messages`, undefined, w.customer.tok);
  assert.equal(r.json.data[0].content, 'one (edited)');
});

test('notifications: created by admin/service, listed by the owner, read one and all', async () => {
  const u = mkUser(w.org, 'agent');
  u.tok = token(u);
  let r = await api('POST', '/notifications', { userId: u.id, type: 'info', title: 'Hello', message: 'World', data: { k: [1, 2] } }, w.service.tok);
  assert.equal(r.status, 201, r.text);
  const n1 = r.json;
  assert.equal(n1.type, 'info');
  assert.deepEqual(n1.data, { k: [1, 2] });
  assert.equal(n1.readAt, null);
  r = await api('POST', '/notifications', { userId: u.id, type: 'info', title: 'Second' }, w.admin.tok);
  assert.equal(r.status, 201);
  assert.equal(r.json.message, '');
  assert.deepEqual(r.json.data, {});
  const n2 = r.json;
  err(await api('POST', '/notifications', { userId: u.id, type: 'x', title: 'x' }, w.agent.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/notifications', { userId: other.agent.id, type: 'x', title: 'x' }, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('POST', '/notifications', { userId: u.id, type: 'x' }, w.admin.tok), 400, 'BAD_REQUEST', /^title/);
  err(await api('POST', '/notifications', { userId: u.id, type: 'x', title: 'x', data: 'str' }, w.admin.tok), 400, 'BAD_REQUEST', /^data/);
  err(await api('POST', '/notifications', { userId: 'me', type: 'x', title: 'x' }, w.admin.tok), 400, 'BAD_REQUEST', /^userId/);

  r = await api('GET', '/notifications', undefined, u.tok);
  assert.deepEqual(r.json.data.map((n) => n.id), [n2.id, n1.id]);
  r = await api('GET', '/notifications?limit=1', undefined, u.tok);
  assert.deepEqual(r.json.data.map((n) => n.id), [n2.id]);
  r = await api('GET', `/notifications?limit=1&cursor=${encodeURIComponent(r.json.nextCursor)}`, undefined, u.tok);
  assert.deepEqual(r.json.data.map((n) => n.id), [n1.id]);
  assert.equal(r.json.nextCursor, null);
  err(await api('POST', `/notifications/${n1.id}/read`, undefined, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('POST', `/notifications/${n1.id}/read`, undefined, other.admin.tok), 404, 'NOT_FOUND');
  r = await api('POST', `/notifications/${n1.id}/read`, undefined, u.tok);
  assert.equal(r.status, 200);
  assert.ok(r.json.readAt);
  r = await api('GET', '/notifications?unread=1', undefined, u.tok);
  assert.deepEqual(r.json.data.map((n) => n.id), [n2.id]);
  r = await api('POST', '/notifications/read-all', undefined, u.tok);
  assert.equal(r.status, 200);
  assert.equal(r.json.updated, 1);
  assert.equal(r.json.unread, 0);
  r = await api('GET', '/notifications?unread=1', undefined, u.tok);
  assert.deepEqual(r.json.data, []);
  err(await api('GET', '/notifications?unread=maybe', undefined, u.tok), 400, 'BAD_REQUEST', /unread/);
});

test('a new message notifies the ticket customer and assignee who did not send it', async () => {
  const t = await mkTicket();
  await api('PATCH', `/tickets/${t.id}`, { assigneeId: w.agent2.id }, w.admin.tok);
  const before = (await api('GET', '/notifications?unread=1&limit=100', undefined, w.agent2.tok)).json.data.length;
  await api('POST', `/tickets/${t.id}/messages`, { content: 'ping from customer' }, w.customer.tok);
  let r = await api('GET', '/notifications?unread=1&limit=100', undefined, w.agent2.tok);
  assert.equal(r.json.data.length, before + 1);
  assert.equal(r.json.data[0].type, 'message');
  assert.equal(r.json.data[0].data.ticketId, t.id);
  r = await api('GET', '/notifications?limit=100', undefined, w.customer.tok);
  assert.ok(!r.json.data.some((n) => n.data.ticketId === t.id), 'the sender is not notified');
});

test('GET /presence: Valkey hash when present, else offline with users.last_seen_at', async () => {
  const rc = await redisClient();
  const key = conf('adapter_key', 'socket.io') || 'socket.io';
  try {
    await rc.hSet(`${key}:{presence}:${w.agent.id}`, { status: 'busy', lastSeen: '1700000000123' });
    sql(`UPDATE users SET last_seen_at = to_timestamp(1600000000.5) WHERE id = :'id'`, { id: w.customer.id });
    const ids = [w.agent.id, w.customer.id, other.agent.id, w.agent2.id].join(',');
    const r = await api('GET', `/presence?userIds=${ids}`, undefined, w.customer2.tok);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data, [
      { userId: w.agent.id, status: 'busy', lastSeen: '2023-11-14T22:13:20.123Z' }, // ISO 8601 (section 3)
      { userId: w.customer.id, status: 'offline', lastSeen: '2020-09-13T12:26:40.500Z' },
      { userId: w.agent2.id, status: 'offline', lastSeen: null },
    ]);
    // without userIds: the org online now, a list (api_seeds.test.mjs has the rest)
    const list = await api('GET', '/presence', undefined, w.agent.tok);
    assert.equal(list.status, 200, list.text);
    assert.ok(Array.isArray(list.json.data) && 'nextCursor' in list.json, list.text);
    err(await api('GET', '/presence?userIds=a,b', undefined, w.agent.tok), 400, 'BAD_REQUEST', /userIds/);
    err(await api('GET', `/presence?userIds=${w.agent.id}`), 401, 'UNAUTHORIZED');
  } finally {
    await rc.del(`${key}:{presence}:${w.agent.id}`);
    await rc.quit();
  }
});

test('bodies: 415 not JSON, 400 empty, 400 malformed, 413 too large (JSON from nginx or the API)', async () => {
  err(await api('POST', '/tickets', 'subject=x', w.customer.tok, { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  err(await api('POST', '/tickets', '{"subject":"x"}', w.customer.tok, { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  err(await api('POST', '/tickets', '', w.customer.tok, { 'content-type': 'application/json' }), 400, 'BAD_REQUEST', /body/);
  err(await api('POST', '/tickets', '', w.customer.tok, { 'content-type': 'text/plain' }), 400, 'BAD_REQUEST', /body/);
  err(await api('POST', '/tickets', '{"subject":', w.customer.tok), 400, 'BAD_REQUEST', /JSON/);
  err(await api('POST', '/tickets', '[1,2]', w.customer.tok), 400, 'BAD_REQUEST', /object/);
  err(await api('POST', '/tickets', Buffer.from('{"subject":"\xff\xfe"}', 'latin1'), w.customer.tok), 400, 'BAD_REQUEST', /UTF-8/);
  err(await api('POST', '/tickets', '{"subject":"a","subject":"b"}', w.customer.tok), 400, 'BAD_REQUEST');
  const max = Number(conf('api_max_body', '1048576'));
  const big = JSON.stringify({ subject: 'x', pad: 'y'.repeat(max) });
  err(await api('POST', '/tickets', big, w.customer.tok), 413, 'PAYLOAD_TOO_LARGE');
  err(await api('POST', '/emit', big, w.admin.tok), 413, 'PAYLOAD_TOO_LARGE');
});

test('hostile input in every string field never gives a 5xx and is stored verbatim', async () => {
  const nasty = [
    "'; DROP TABLE tickets; --",
    'Robert"); DELETE FROM users; --',
    '\\x00\\\\ $1 $$ %s %n {} [] <script>alert(1)</script>',
    '😀 ünïcödé \u202e RTL',
    "' OR '1'='1",
  ];
  for (const s of nasty) {
    let r = await api('POST', '/tickets', { subject: s }, w.customer.tok);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.subject, s);
    const t = r.json;
    r = await api('POST', `/tickets/${t.id}/messages`, { content: s }, w.customer.tok);
    assert.equal(r.status, 201);
    assert.equal(r.json.content, s);
    r = await api('PATCH', `/tickets/${t.id}`, { subject: s + '!' }, w.agent.tok);
    assert.equal(r.status, 200);
    r = await api('POST', '/notifications', { userId: w.agent.id, type: s.slice(0, 100), title: s, message: s, data: { [s]: s } }, w.admin.tok);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.title, s);
    r = await api('POST', '/users', { name: s, email: `x${randomUUID()}@y.z`, role: 'customer' }, w.admin.tok);
    assert.equal(r.status, 201);
    await clearAddrLimit();
    r = await api('POST', '/auth/login', { email: s, password: s });
    assert.equal(r.status, 401, r.text);
    r = await api('POST', '/emit', { event: s, data: s, except: [s] }, w.admin.tok);
    assert.equal(r.status, 202, r.text);
    r = await api('POST', '/emit', { event: 'x', rooms: [s] }, w.admin.tok);
    assert.equal(r.status, 202, r.text); // a free room of the org (section 7), as named
    assert.deepEqual(r.json.rooms, [`free:${w.org}:${s}`]);
    for (const q of [`/tickets?status=${encodeURIComponent(s)}`, `/tickets?cursor=${encodeURIComponent(s)}`, `/tickets?assigneeId=${encodeURIComponent(s)}`, `/presence?userIds=${encodeURIComponent(s)}`, `/tickets/${t.id}/messages?after=${encodeURIComponent(s)}`, `/users?role=${encodeURIComponent(s)}`]) {
      r = await api('GET', q, undefined, w.admin.tok);
      assert.ok(r.status < 500, `${q}: ${r.status} ${r.text}`);
    }
  }
  assert.ok(Number(sql('SELECT count(*) FROM tickets')[0][0]) > 0, 'tickets still there');
});

test('wrong types in every field are 400 naming the field', async () => {
  const t = await mkTicket();
  const cases = [
    ['POST', '/tickets', { subject: ['x'] }, w.customer.tok, /^subject/],
    ['POST', '/tickets', { subject: 'x', priority: 1 }, w.customer.tok, /^priority/],
    ['POST', '/tickets', { subject: 'x', customerId: 7 }, w.agent.tok, /^customerId/],
    ['PATCH', `/tickets/${t.id}`, { subject: null }, w.agent.tok, /^subject/],
    ['PATCH', `/tickets/${t.id}`, { priority: {} }, w.agent.tok, /^priority/],
    ['PATCH', `/tickets/${t.id}`, { assigneeId: 5 }, w.agent.tok, /^assigneeId/],
    ['POST', `/tickets/${t.id}/messages`, { content: { a: 1 } }, w.customer.tok, /^content/],
    ['POST', '/users', { name: 1, email: 'a@b.c', role: 'agent' }, w.admin.tok, /^name/],
    ['POST', '/users', { name: 'a', email: 'a@b.c', role: 'agent', teamId: 'x' }, w.admin.tok, /^teamId/],
    ['POST', '/notifications', { userId: w.agent.id, type: 1, title: 'x' }, w.admin.tok, /^type/],
    ['POST', '/notifications', { userId: w.agent.id, type: 'x', title: 'x', message: false }, w.admin.tok, /^message/],
    ['POST', '/emit', { event: 1 }, w.admin.tok, /^event/],
    ['POST', '/emit', { event: 'x', rooms: 'org' }, w.admin.tok, /^rooms/],
    ['POST', '/emit', { event: 'x', users: ['nope'] }, w.admin.tok, /^users/],
    ['POST', '/emit', { event: 'x', namespace: 'dash' }, w.admin.tok, /^namespace/],
    ['POST', '/emit', { event: 'x', except: [1] }, w.admin.tok, /^except/],
    ['POST', '/emit', { event: 'x', extra: 1 }, w.admin.tok, /unknown field/],
    ['POST', '/auth/login', { email: 'a@b.c', password: null }, undefined, /^password/],
  ];
  for (const [m, p, b, tok, re] of cases) err(await api(m, p, b, tok), 400, 'BAD_REQUEST', re);
});

test('POST /emit: admin and service only; rooms outside the org refused', async () => {
  const t = await mkTicket();
  const team = mkTeam(w.org);
  let r = await api('POST', '/emit', { event: 'hello', data: { a: 1 } }, w.service.tok);
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json.rooms, [`org:${w.org}`]);
  assert.equal(typeof r.json.eventId, 'number');
  r = await api('POST', '/emit', { event: 'hello', rooms: [`ticket:${t.id}`, `agents:${w.org}`, `role:${w.org}:agent`, `team:${team}`, `org:${w.org}`], users: [w.customer.id] }, w.admin.tok);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.rooms.length, 6);
  err(await api('POST', '/emit', { event: 'x' }, w.agent.tok), 403, 'FORBIDDEN');
  err(await api('POST', '/emit', { event: 'x' }, w.customer.tok), 403, 'FORBIDDEN');
  for (const room of [`org:${other.org}`, `agents:${other.org}`, `role:${other.org}:agent`, `ws:${other.org}`, 'presence:lobby', `role:${w.org}:god`, `org:${w.org}x`])
    err(await api('POST', '/emit', { event: 'x', rooms: [room] }, w.admin.tok), 403, 'FORBIDDEN');
  const ot = await mkTicket(other.customer.tok);
  for (const room of [`ticket:${ot.id}`, `user:${other.agent.id}`, `team:${mkTeam(other.org)}`, `ticket:${randomUUID()}`, 'user:nope'])
    err(await api('POST', '/emit', { event: 'x', rooms: [room] }, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('POST', '/emit', { event: 'x', users: [other.customer.id] }, w.admin.tok), 404, 'NOT_FOUND');
  err(await api('POST', '/emit', { event: 'connect' }, w.admin.tok), 400, 'BAD_REQUEST', /reserved/);
});

test('413 from pushdesk-api itself: CONTENT_LENGTH over api_max_body, refused before reading (FastCGI direct)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const sock = conf('api_socket');
  let out;
  try {
    execFileSync('sh', ['-c', 'command -v cgi-fcgi']);
  } catch {
    t.skip('cgi-fcgi (libfcgi-bin) not installed');
    return;
  }
  if (!sock.startsWith('/')) {
    t.skip('api_socket is not a unix socket');
    return;
  }
  const max = Number(conf('api_max_body', '1048576'));
  const env = {
    PATH: process.env.PATH,
    REQUEST_METHOD: 'POST',
    DOCUMENT_URI: '/api/v1/tickets',
    QUERY_STRING: '',
    CONTENT_TYPE: 'application/json',
    CONTENT_LENGTH: String(max + 1),
    HTTP_AUTHORIZATION: `Bearer ${w.customer.tok}`,
    REMOTE_ADDR: '127.0.0.9',
  };
  out = execFileSync('cgi-fcgi', ['-bind', '-connect', sock], { env, input: '{"subject":"x"}', encoding: 'utf8', timeout: 10000 });
  assert.match(out, /^Status: 413 /m, out);
  assert.match(out, /"code":"PAYLOAD_TOO_LARGE"/, out);
  // Content-Length 0 on a write: 400 naming the body, whatever the type.
  out = execFileSync('cgi-fcgi', ['-bind', '-connect', sock], { env: { ...env, CONTENT_LENGTH: '0', CONTENT_TYPE: '' }, input: '', encoding: 'utf8', timeout: 10000 });
  assert.match(out, /^Status: 400 /m, out);
  assert.match(out, /body/, out);
});

// Every worker's idle PGconn / hiredis context dies with a server restart;
// the next request on each worker must notice it before using it and
// reconnect, not answer 503 while the server is up again.
const workers = () => Number(conf('api_workers', '4')) || 4;

// Give (most likely) every worker a connection: concurrent requests spread
// over the pool.
async function warmWorkers(path, tok) {
  const rs = await Promise.all(Array.from({ length: 4 * workers() }, () => api('GET', path, undefined, tok)));
  for (const r of rs) assert.equal(r.status, 200, r.text);
}

test('PostgreSQL restarted while the workers are idle: the first requests after it are all 200', async () => {
  await warmWorkers('/me', w.agent.tok);
  try {
    stack('pd_restart_pg');
  } finally {
    stack('pd_pg_running || pd_start_pg');
  }
  const n = Math.max(10, 2 * workers() + 2);
  for (let i = 0; i < n; i++) {
    const r = await api('GET', '/me', undefined, w.agent.tok);
    assert.equal(r.status, 200, `request ${i + 1} of ${n} after the restart: ${r.text}`);
    assert.equal(r.json.id, w.agent.id);
  }
  // a write too (BEGIN .. COMMIT, then the outbox publish on the same connection)
  await mkTicket();
});

test('Valkey restarted while the workers are idle: the first requests after it are all 200', async () => {
  await warmWorkers('/health');
  try {
    stack('pd_stop_redis && pd_start_redis');
  } finally {
    stack('pd_redis_running || pd_start_redis');
  }
  const n = Math.max(10, 2 * workers() + 2);
  for (let i = 0; i < n; i++) {
    const r = await api('GET', '/health');
    assert.equal(r.status, 200, `request ${i + 1} of ${n} after the restart: ${r.text}`);
    assert.deepEqual(r.json, { db: 'ok', valkey: 'ok' });
  }
});
