// Seed 001 (the helpdesk's real-time module) connects unchanged: contract
// 7.1, its namespaces /tickets, /presence, /notifications, /chat and
// /dashboard, always served, as views of the same rooms and handlers as /.
// The seed's client calls, as its namespace handlers receive them:
//
//   io(url + '/tickets', { auth: { token } })
//     emit('ticket:subscribe', { ticketId })   -> ticket:subscribed {ticketId} | error {code:'FORBIDDEN'}
//     emit('ticket:unsubscribe', { ticketId }) -> ticket:unsubscribed {ticketId}
//     emit('ticket:typing', { ticketId })      -> others: ticket:typing {ticketId, user:{id,name}}
//     emit('ticket:stopTyping', { ticketId })  -> others: ticket:stopTyping {ticketId, userId}
//   io(url + '/presence')       presence:status {status} | presence:subscribe {userIds} | presence:unsubscribe
//   io(url + '/notifications')  notification:markRead {id} | notification:markAllRead
//   io(url + '/chat')           ticket:subscribe, chat:message {ticketId, content}
//   io(url + '/dashboard')      metrics:tickets, metrics:queue, metrics:agents (admin only)
//
// Rate limits: ticket:typing counts as typing:start, chat:message as
// message:send. One broker through nginx, then two brokers.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { world, must, mkTicket, messagesOf, quiet, ack, MESSAGE, hasKeys } from './lib/rt.mjs';
import { mkTeam, token } from './lib/pd.mjs';
import { mintJwt } from './lib/broker.mjs';
import {
  W, TT, ISO, dialectSocket, openAs, refused, got, errorOf, errorsSince, exactly, closeSeeds,
  mark, seen, sleep, twoBrokers,
} from './lib/seeds.mjs';
import { confValue, presenceConns } from './lib/rt.mjs';

const w = world();
const o = world();
const NSPS = ['/tickets', '/presence', '/notifications', '/chat', '/dashboard'];
afterEach(() => closeSeeds());

// The seed's client: io(url + nsp, {auth: {token}}), no dialect in the query.
const nsp = (user, name, opts = {}) => openAs(user, null, { nsp: name, ...opts });

async function subscribe(s, ticketId) {
  const m = mark(s);
  s.emit('ticket:subscribe', { ticketId });
  const x = await got(s, 'ticket:subscribed', (y) => y && y.ticketId === ticketId, m);
  assert.deepEqual({ ...x }, { ticketId });
}

describe('seed 001 namespaces on one broker (through nginx)', () => {
  test('every namespace connects with a token and refuses as / does: AUTH_TOKEN_MISSING, AUTH_TOKEN_EXPIRED, AUTH_TOKEN_INVALID', TT, async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = mintJwt({ sub: w.admin.id, org: w.org, role: 'admin', name: 'x', iat: now - 7200, exp: now - 3600 }, confValue('jwt_secret'));
    for (const n of NSPS) {
      await nsp(w.admin, n);
      assert.equal(await refused(dialectSocket(w.admin, null, { nsp: n, token: null }), `${n} no token`), 'AUTH_TOKEN_MISSING', n);
      assert.equal(await refused(dialectSocket(w.admin, null, { nsp: n, token: expired }), `${n} expired`), 'AUTH_TOKEN_EXPIRED', n);
      assert.equal(await refused(dialectSocket(w.admin, null, { nsp: n, token: 'a.b.c' }), `${n} garbage`), 'AUTH_TOKEN_INVALID', n);
    }
    assert.equal(await refused(dialectSocket(w.agent, null, { nsp: '/dashboard' })), 'FORBIDDEN', '/dashboard is admin only');
    assert.equal(await refused(dialectSocket(w.agent, null, { nsp: '/nope' })), 'Invalid namespace');
    // the namespaces share one connection (socket.io-client multiplexes them)
    const { requireNode } = await import('./lib/broker.mjs');
    const { Manager } = requireNode('socket.io-client');
    const { env } = await import('./lib/rt.mjs');
    const mgr = new Manager(env.http, { transports: ['websocket'], reconnection: false });
    const socks = NSPS.slice(0, 4).map((n) => mgr.socket(n, { auth: { token: w.agent.token } }));
    try {
      await Promise.all(socks.map((s) => new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); })));
    } finally {
      for (const s of socks) s.disconnect();
    }
  });

  test('/tickets: subscribe, FORBIDDEN for tickets the user may not see, unsubscribe; API changes reach / and /tickets alike, once each', TT, async () => {
    const t = await mkTicket(w.customer);
    const notMine = await mkTicket(w.customer2);
    const foreign = await mkTicket(o.customer);
    const [ct, at, aMain, c2t] = await Promise.all([
      nsp(w.customer, '/tickets'), nsp(w.agent, '/tickets'), openAs(w.agent2, null), nsp(w.customer2, '/tickets')]);
    await subscribe(ct, t.id);
    await subscribe(at, t.id);
    assert.deepEqual(await ack(aMain, 'ticket:join', t.id), { ok: true });
    for (const [s, id, what] of [[ct, notMine.id, 'another customer\'s ticket'], [ct, foreign.id, 'another org\'s ticket'], [c2t, t.id, 'not the owner']]) {
      const m = mark(s);
      s.emit('ticket:subscribe', { ticketId: id });
      await errorOf(s, m, 'FORBIDDEN', what);
      assert.equal(seen(s, 'ticket:subscribed', (x) => x.ticketId === id, m).length, 0);
    }
    const ms = [ct, at, aMain, c2t].map(mark);
    // PATCH: ticket:updated, ticket:assigned
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending', assigneeId: w.agent.id }, w.admin);
    for (const [i, s] of [[0, ct], [1, at], [2, aMain]]) {
      const u = await exactly(s, 'ticket:updated', 1, (x) => x.id === t.id && x.status === 'pending', ms[i], `ticket:updated ${i}`);
      assert.match(u[0].updatedAt, ISO);
      assert.equal(typeof u[0].eventId, 'number');
      await got(s, 'ticket:assigned', (x) => x.ticketId === t.id && x.assigneeId === w.agent.id, ms[i]);
    }
    // a message through the API: message:new on both namespaces, once each
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'via the API' }, w.customer);
    for (const [i, s] of [[0, ct], [1, at], [2, aMain]]) {
      const x = await exactly(s, 'message:new', 1, (y) => y.id === p.id, ms[i], `message:new ${i}`);
      hasKeys(x[0], MESSAGE, 'message:new on a seed-001 namespace');
    }
    // edit: message:updated
    await must(200, 'PATCH', `/messages/${p.id}`, { content: 'edited' }, w.customer);
    for (const [i, s] of [[0, ct], [1, at], [2, aMain]]) await got(s, 'message:updated', (y) => y.id === p.id && y.content === 'edited', ms[i]);
    assert.equal(seen(c2t, 'message:new', () => true, ms[3]).length + seen(c2t, 'ticket:updated', () => true, ms[3]).length, 0, 'nothing to a refused socket');
    // unsubscribe: ticket:unsubscribed, then no more of the ticket
    const m = mark(at);
    at.emit('ticket:unsubscribe', { ticketId: t.id });
    assert.deepEqual({ ...(await got(at, 'ticket:unsubscribed', (x) => x.ticketId === t.id, m)) }, { ticketId: t.id });
    const m2 = mark(at); const mc = mark(ct);
    const p2 = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'after unsubscribe' }, w.customer);
    await got(ct, 'message:new', (y) => y.id === p2.id, mc);
    // the agent is the assignee (user:<id> gets ticket:assigned), not in ticket:<id> any more
    await quiet(at, 'message:new', (y) => y.id === p2.id, 1000, m2, 'after ticket:unsubscribe');
  });

  test('/tickets typing: ticket:typing {ticketId, user:{id,name}} to the others, not the sender\'s sockets; ticket:stopTyping, also by itself 5 s later', TT, async (tc) => {
    const t = await mkTicket(w.customer);
    const [c1, c2, ag, agMain] = await Promise.all([nsp(w.customer, '/tickets'), nsp(w.customer, '/tickets'), nsp(w.agent, '/tickets'), openAs(w.agent2, null)]);
    for (const s of [c1, c2, ag]) await subscribe(s, t.id);
    assert.deepEqual(await ack(agMain, 'ticket:join', t.id), { ok: true });
    const ms = [c1, c2, ag, agMain].map(mark);
    c1.emit('ticket:typing', { ticketId: t.id });
    const x = await got(ag, 'ticket:typing', (y) => y.ticketId === t.id, ms[2]);
    assert.deepEqual(JSON.parse(JSON.stringify(x)), { ticketId: t.id, user: { id: w.customer.id, name: w.customer.name } });
    // the same room on /: the helpdesk's typing:start
    const y = await got(agMain, 'typing:start', (z) => z.ticketId === t.id, ms[3]);
    assert.deepEqual({ ...y }, { ticketId: t.id, userId: w.customer.id, userName: w.customer.name });
    c1.emit('ticket:stopTyping', { ticketId: t.id });
    assert.deepEqual({ ...(await got(ag, 'ticket:stopTyping', (z) => z.ticketId === t.id, ms[2])) }, { ticketId: t.id, userId: w.customer.id });
    await got(agMain, 'typing:stop', (z) => z.ticketId === t.id, ms[3]);
    await sleep(500);
    assert.equal(seen(c1, 'ticket:typing', () => true, ms[0]).length, 0, 'not to the typist');
    assert.equal(seen(c2, 'ticket:typing', () => true, ms[1]).length, 0, 'not to the typist\'s other socket');
    // automatic stop
    const m = mark(ag);
    const t0 = Date.now();
    ag.emit('ticket:typing', { ticketId: t.id });
    const mc = mark(c1);
    await got(c1, 'ticket:typing', (z) => z.user && z.user.id === w.agent.id, mc);
    const deadline = Date.now() + 12_000;
    let e;
    while (!(e = c1.log.slice(mc).find((z) => z.event === 'ticket:stopTyping' && z.args[0].userId === w.agent.id)) && Date.now() < deadline) await sleep(20);
    assert.ok(e, 'an automatic ticket:stopTyping');
    tc.diagnostic(`automatic ticket:stopTyping ${e.t - t0} ms after ticket:typing`);
    assert.ok(e.t - t0 >= 4500 && e.t - t0 <= 8000, `${e.t - t0} ms (about 5000)`);
    void m;
  });

  test('rate limits: the 11th ticket:typing in 10 s and the 6th chat:message in 1 s are RATE_LIMITED (typing:start, message:send)', TT, async () => {
    const t = await mkTicket(w.customer);
    const [ct, rx, chat] = await Promise.all([nsp(w.customer, '/tickets'), nsp(w.agent, '/tickets'), nsp(w.customer, '/chat')]);
    for (const s of [ct, rx]) await subscribe(s, t.id);
    await subscribe(chat, t.id);
    const m = mark(ct); const mr = mark(rx);
    for (let i = 0; i < 10; i++) ct.emit('ticket:typing', { ticketId: t.id });
    await got(rx, 'ticket:typing', () => true, mr);
    await sleep(1000);
    const relayed = seen(rx, 'ticket:typing', () => true, mr).length;
    assert.ok(relayed >= 1 && relayed <= 10, `${relayed} of 10 relayed (a relay may coalesce repeats, never add)`);
    assert.deepEqual(seen(ct, 'error', () => true, m), []);
    const mr11 = mark(rx);
    ct.emit('ticket:typing', { ticketId: t.id });
    const e = await errorOf(ct, m, 'RATE_LIMITED', '11th ticket:typing');
    assert.ok(e.retryAfter > 0 && e.retryAfter <= 10, `retryAfter ${e.retryAfter}`);
    await quiet(rx, 'ticket:typing', () => true, 800, mr11, 'the dropped ticket:typing');
    // chat:message: 5 per second
    const mc = mark(chat);
    const acks = await Promise.all([...Array(6).keys()].map((i) => ack(chat, 'chat:message', { ticketId: t.id, content: `burst ${i}` })));
    const ok = acks.filter((a) => a && a.ok === true).length;
    const limited = acks.filter((a) => a && a.error && a.error.code === 'RATE_LIMITED').length;
    assert.equal(ok, 5, `5 accepted: ${JSON.stringify(acks).slice(0, 400)}`);
    assert.equal(limited, 1, 'the 6th RATE_LIMITED');
    const stored = (await messagesOf(t.id, w.customer)).filter((x) => x.content.startsWith('burst '));
    assert.equal(stored.length, 5, 'the dropped one is not stored');
    void mc;
  });

  test('/chat: chat:message stored as message:send, same ack; message:new to /chat subscribers and to / members', TT, async () => {
    const t = await mkTicket(w.customer);
    const foreign = await mkTicket(o.customer);
    const [cc, ac, aMain] = await Promise.all([nsp(w.customer, '/chat'), nsp(w.agent, '/chat'), openAs(w.agent2, null)]);
    for (const s of [cc, ac]) await subscribe(s, t.id);
    assert.deepEqual(await ack(aMain, 'ticket:join', t.id), { ok: true });
    const ms = [cc, ac, aMain].map(mark);
    const r = await ack(cc, 'chat:message', { ticketId: t.id, content: 'hello from /chat' });
    assert.equal(r.ok, true, JSON.stringify(r));
    hasKeys(r.message, MESSAGE, 'ack.message');
    assert.equal(r.delivered, true, 'the agent is connected');
    for (const [i, s] of [[0, cc], [1, ac], [2, aMain]]) await exactly(s, 'message:new', 1, (x) => x.id === r.message.id, ms[i], `message:new ${i}`);
    assert.ok((await messagesOf(t.id, w.agent)).some((x) => x.id === r.message.id && x.content === 'hello from /chat'), 'stored');
    // without an ack: stored and sent all the same
    cc.emit('chat:message', { ticketId: t.id, content: 'no ack' });
    await got(ac, 'message:new', (x) => x.content === 'no ack', ms[1]);
    // refused: another org's ticket (error event, and the error ack)
    let m = mark(cc);
    cc.emit('chat:message', { ticketId: foreign.id, content: 'not yours' });
    await errorOf(cc, m, ['FORBIDDEN', 'NOT_FOUND'], 'chat:message to another org\'s ticket');
    const ea = await ack(cc, 'chat:message', { ticketId: foreign.id, content: 'not yours' });
    assert.ok(ea && ea.error && ['FORBIDDEN', 'NOT_FOUND'].includes(ea.error.code), JSON.stringify(ea));
    m = mark(cc);
    cc.emit('ticket:subscribe', { ticketId: foreign.id });
    await errorOf(cc, m, 'FORBIDDEN', '/chat ticket:subscribe to another org\'s ticket');
    assert.ok(!(await messagesOf(foreign.id, o.admin)).some((x) => x.content === 'not yours'));
  });

  test('/presence: presence:update to the team on first connection, on status change, offline with lastSeen; INVALID_STATUS; presence:list', TT, async () => {
    const team = mkTeam(w.org);
    const otherTeam = mkTeam(w.org);
    const mate = w.user('agent', { team });
    const u = w.user('agent', { team });
    const stranger = w.user('agent', { team: otherTeam });
    const [sm, ss, sf] = await Promise.all([nsp(mate, '/presence'), nsp(stranger, '/presence'), nsp(o.agent, '/presence')]);
    const ms = [sm, ss, sf].map(mark);
    const su = await nsp(u, '/presence'); // u's first connection anywhere
    const on = await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'online', ms[0]);
    assert.equal(on.userId, u.id);
    // status change
    const mu = mark(su);
    su.emit('presence:status', { status: 'busy' });
    await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'busy', ms[0]);
    su.emit('presence:status', { status: 'dancing' });
    await errorOf(su, mu, 'INVALID_STATUS', 'presence:status dancing');
    su.emit('presence:status', { status: 'away' });
    await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'away', ms[0]);
    // subscribe (the mate's second device, so that sm keeps one route): presence:list
    const sub = await nsp(mate, '/presence');
    const mm = mark(sub);
    sub.emit('presence:subscribe', { userIds: [u.id, stranger.id, w.customer2.id] });
    const list = await got(sub, 'presence:list', () => true, mm);
    assert.ok(Array.isArray(list), JSON.stringify(list));
    const st = Object.fromEntries(list.map((x) => [x.userId, x.status]));
    assert.equal(st[u.id], 'away');
    assert.equal(st[stranger.id], 'online');
    assert.equal(st[w.customer2.id], 'offline');
    // the last connection goes: offline with lastSeen ISO 8601, once
    su.disconnect();
    const off = await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', ms[0]);
    assert.match(off.lastSeen, ISO, 'lastSeen ISO 8601');
    await sleep(800);
    assert.equal(seen(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', ms[0]).length, 1, 'one offline update to a teammate');
    await got(sub, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', mm);
    assert.equal(seen(sf, 'presence:update', (x) => x.userId === u.id, ms[2]).length, 0, 'nothing to another org');
    assert.equal(seen(ss, 'presence:update', (x) => x.userId === u.id, ms[1]).length, 0, 'not to another team (not subscribed)');
    // another org's ids are not revealed
    const mf = mark(sf);
    sf.emit('presence:subscribe', { userIds: [mate.id] });
    await sleep(1500);
    const leak = seen(sf, 'presence:list', () => true, mf).flat().filter((x) => x && x.userId === mate.id && x.status !== 'offline');
    assert.deepEqual(leak, [], 'another org\'s user never shows as online');
  });

  test('/notifications: notification:count on connect and on change, notification, markRead, markAllRead', TT, async () => {
    const u = w.user('customer');
    const n1 = await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: 'one' }, w.service);
    const s = await nsp(u, '/notifications');
    await got(s, 'notification:count', (x) => x.unread === 1);
    let m = mark(s);
    const n2 = await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: 'two', message: 'm', data: { k: 1 } }, w.service);
    const got2 = await got(s, 'notification', (x) => x.id === n2.id, m);
    assert.equal(got2.title, 'two');
    assert.match(got2.createdAt, ISO);
    await got(s, 'notification:count', (x) => x.unread === 2, m);
    m = mark(s);
    s.emit('notification:markRead', { id: n1.id });
    await got(s, 'notification:count', (x) => x.unread === 1, m);
    m = mark(s);
    s.emit('notification:markAllRead');
    await got(s, 'notification:count', (x) => x.unread === 0, m);
    const r = await must(200, 'GET', '/notifications?unread=1', undefined, u);
    assert.equal(r.data.length, 0);
    // someone else's notification id: an error, the count unchanged
    const other = await must(201, 'POST', '/notifications', { userId: w.customer2.id, type: 'x', title: 'not yours' }, w.service);
    m = mark(s);
    s.emit('notification:markRead', { id: other.id });
    await errorOf(s, m, ['NOT_FOUND', 'FORBIDDEN'], 'markRead of another user\'s notification');
    const r2 = await must(200, 'GET', '/notifications?unread=1', undefined, w.customer2);
    assert.ok(r2.data.some((x) => x.id === other.id), 'still unread');
  });

  test('/dashboard: an admin gets metrics:tickets, metrics:queue, metrics:agents', TT, async () => {
    const s = await nsp(w.admin, '/dashboard');
    const t = await got(s, 'metrics:tickets');
    for (const k of ['open', 'pending', 'resolved', 'closed']) assert.equal(typeof t[k], 'number', k);
    const q = await got(s, 'metrics:queue');
    assert.equal(typeof q.unassigned, 'number');
    const a = await got(s, 'metrics:agents');
    for (const k of ['online', 'away', 'busy']) assert.equal(typeof a[k], 'number', k);
  });

  test('role:<role>, seed 001\'s spelling of role:<org>:<role>: POST /emit and pushdeskctl emit reach that role of the caller\'s org only', TT, async () => {
    const [ag, cu, ad, foreign] = await Promise.all([openAs(w.agent, null), openAs(w.customer, null), openAs(w.admin, null), openAs(o.agent, null)]);
    const ms = [ag, cu, ad, foreign].map(mark);
    const tag = randomUUID();
    await must(202, 'POST', '/emit', { rooms: ['role:agent'], event: 'bulk-update', data: { tag } }, w.admin);
    await exactly(ag, 'bulk-update', 1, (x) => x.tag === tag, ms[0], 'an agent of the org');
    for (const [i, s, what] of [[1, cu, 'a customer'], [2, ad, 'an admin'], [3, foreign, 'another org\'s agent']]) {
      assert.equal(seen(s, 'bulk-update', () => true, ms[i]).length, 0, what);
    }
    const { ctl } = await import('./lib/pd.mjs');
    ctl('emit', '--room', `role:${w.org}:customer`, 'hello-customers', JSON.stringify({ tag }));
    await exactly(cu, 'hello-customers', 1, (x) => x.tag === tag, ms[1], 'the canonical role room');
  });

  test('bad input on every seed-001 event gets an error and leaves the connection usable', TT, async () => {
    const t = await mkTicket(w.customer);
    const foreign = await mkTicket(o.customer);
    const [tk, ch, pr, nt] = await Promise.all(['/tickets', '/chat', '/presence', '/notifications'].map((n) => nsp(w.customer, n)));
    const cases = [
      [tk, 'ticket:subscribe', 42], [tk, 'ticket:subscribe', {}], [tk, 'ticket:subscribe', { ticketId: 42 }],
      [tk, 'ticket:subscribe', { ticketId: 'not-a-uuid' }], [tk, 'ticket:subscribe', { ticketId: randomUUID() }],
      [tk, 'ticket:subscribe', { ticketId: foreign.id }], [tk, 'ticket:subscribe', { ticketId: 'x'.repeat(10_000) }],
      [tk, 'ticket:unsubscribe', 42], [tk, 'ticket:typing', { ticketId: 7 }], [tk, 'ticket:typing', { ticketId: foreign.id }],
      [tk, 'ticket:stopTyping', null],
      [ch, 'chat:message', { ticketId: t.id, content: 42 }], [ch, 'chat:message', { ticketId: t.id }],
      [ch, 'chat:message', 'text'], [ch, 'chat:message', { ticketId: foreign.id, content: 'x' }],
      [pr, 'presence:status', 'busy'], [pr, 'presence:status', { status: 42 }], [pr, 'presence:subscribe', { userIds: 'x' }],
      [pr, 'presence:subscribe', 12], [pr, 'presence:unsubscribe', { userIds: [1, 2] }],
      [nt, 'notification:markRead', { id: 42 }], [nt, 'notification:markRead', 'x'], [nt, 'notification:markRead', { id: randomUUID() }],
    ];
    const marks = new Map([tk, ch, pr, nt].map((s) => [s, mark(s)]));
    for (const [s, ev, payload] of cases) {
      const m = mark(s);
      s.emit(ev, payload);
      await errorOf(s, m, ['BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND', 'INVALID_STATUS'], `${ev} ${JSON.stringify(payload).slice(0, 40)}`);
    }
    let total = 0;
    for (const [s, m] of marks) total += (await errorsSince(s, m, 200)).length;
    assert.equal(total, cases.length, 'one error per bad event');
    assert.equal(seen(tk, 'ticket:subscribed', () => true, marks.get(tk)).length, 0);
    // every namespace still usable
    await subscribe(tk, t.id);
    await subscribe(ch, t.id);
    const r = await ack(ch, 'chat:message', { ticketId: t.id, content: 'still fine' });
    assert.equal(r.ok, true, JSON.stringify(r));
    const mp = mark(pr);
    pr.emit('presence:subscribe', { userIds: [w.agent.id] });
    await got(pr, 'presence:list', () => true, mp);
    const mn = mark(nt);
    nt.emit('notification:markAllRead');
    await got(nt, 'notification:count', (x) => x.unread === 0, mn);
  });
});

describe('seed 001 across two brokers', () => {
  let br;
  before(async () => { br = await twoBrokers(); });
  after(async () => { closeSeeds(); if (br) await br.stop(); });

  test('an API change reaches / on A and /tickets on B alike; ticket:typing crosses brokers; chat:message on A reaches /chat on B', TT, async () => {
    const t = await mkTicket(w.customer);
    const aMain = await openAs(w.agent2, null, { url: br.A.url });
    const cTk = await nsp(w.customer, '/tickets', { url: br.B.url });
    const aTk = await nsp(w.agent, '/tickets', { url: br.A.url });
    const chatB = await nsp(w.agent, '/chat', { url: br.B.url });
    const chatA = await nsp(w.customer, '/chat', { url: br.A.url });
    assert.deepEqual(await ack(aMain, 'ticket:join', t.id), { ok: true });
    for (const s of [cTk, aTk, chatB, chatA]) await subscribe(s, t.id);
    const ms = [aMain, cTk, aTk, chatB].map(mark);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending', priority: 'high' }, w.admin);
    for (const [i, s] of [[0, aMain], [1, cTk], [2, aTk]]) await exactly(s, 'ticket:updated', 1, (x) => x.id === t.id && x.priority === 'high', ms[i], `ticket:updated ${i}`);
    // typing from A's /tickets to B's /tickets
    aTk.emit('ticket:typing', { ticketId: t.id });
    const x = await got(cTk, 'ticket:typing', (y) => y.ticketId === t.id, ms[1]);
    assert.deepEqual(JSON.parse(JSON.stringify(x.user)), { id: w.agent.id, name: w.agent.name });
    aTk.emit('ticket:stopTyping', { ticketId: t.id });
    await got(cTk, 'ticket:stopTyping', (y) => y.userId === w.agent.id, ms[1]);
    // chat:message on A -> message:new on B (/chat, /tickets) and A (/)
    const r = await ack(chatA, 'chat:message', { ticketId: t.id, content: 'from A' });
    assert.equal(r.ok, true, JSON.stringify(r));
    for (const [i, s] of [[0, aMain], [1, cTk], [3, chatB]]) await exactly(s, 'message:new', 1, (y) => y.id === r.message.id, ms[i], `message:new ${i}`);
  });

  test('/presence across brokers: a teammate on A sees the user come online on B, change status, go offline once', TT, async () => {
    const team = mkTeam(w.org);
    const mate = w.user('agent', { team });
    const u = w.user('agent', { team });
    const sm = await nsp(mate, '/presence', { url: br.A.url });
    const m = mark(sm);
    const su = await nsp(u, '/presence', { url: br.B.url });
    await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'online', m);
    su.emit('presence:status', { status: 'busy' });
    await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'busy', m);
    // a second device on A: its departure is not an offline. The CONNECT
    // reply leaves before A's presence write reaches Valkey; wait until
    // Valkey holds both connections, as a second device that is really
    // there would be (otherwise B may see the first leave before A's join).
    const su2 = await nsp(u, '/presence', { url: br.A.url });
    await presenceConns(u.id, 2);
    su.disconnect();
    await sleep(2000);
    assert.equal(seen(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', m).length, 0, 'still connected on A');
    su2.disconnect();
    const off = await got(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', m);
    assert.match(off.lastSeen, ISO);
    await sleep(1000);
    assert.equal(seen(sm, 'presence:update', (x) => x.userId === u.id && x.status === 'offline', m).length, 1, 'once');
  });

  test('/notifications on both brokers: every device gets the notification and the count', TT, async () => {
    const u = w.user('customer');
    const [na, nb] = [await nsp(u, '/notifications', { url: br.A.url }), await nsp(u, '/notifications', { url: br.B.url })];
    const ms = [na, nb].map(mark);
    const n = await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: 'both' }, w.service);
    for (const [i, s] of [[0, na], [1, nb]]) {
      await exactly(s, 'notification', 1, (x) => x.id === n.id, ms[i], `device ${i}`);
      await got(s, 'notification:count', (x) => x.unread === 1, ms[i]);
    }
  });
});

void W; void token;
