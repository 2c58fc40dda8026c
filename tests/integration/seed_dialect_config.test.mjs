// Which vocabulary a connection speaks (contract 5 `dialect`, 7): brokers
// started here on the stack's pushdesk.conf (its database, Valkey, secret)
// with only the dialect changed (PUSHDESK_DIALECT=NAME, or `dialect = NAME`
// in a copy of the file) serve each seed's unmodified client with no query;
// on the stack's broker (the default, helpdesk) ?dialect=NAME chooses per
// connection and an unknown name is `connect_error` "Invalid dialect". One
// ticket room with members of every dialect gets each event once per socket,
// in each one's vocabulary. Rate limits configured for the internal events
// bind their aliases.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { world, must, mkTicket, ack, quiet, env, brokerConfig } from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { waitFor } from './lib/pd.mjs';
import {
  TT, seedSocket, dialectSocket, openAs, connected, refused, got, errorOf, exactly, closeSeeds,
  mark, seen, sleep, loginCookie, foreignToken, SEED_ROLE,
} from './lib/seeds.mjs';

const w = world();
const o = world();
afterEach(() => closeSeeds());

// Seed 002's client exactly: no token, no query; the login cookie.
async function seed002(user, url) {
  const cookie = user.cookie || (user.cookie = await loginCookie(user));
  const s = seedSocket(url, { path: '/socket.io', transports: ['websocket', 'polling'], withCredentials: true, extraHeaders: { cookie } }, user);
  s.on('connect', () => s.emit('auth', { userId: user.id }));
  await connected(s, `seed 002 client on ${url}`);
  await got(s, 'auth:success', (x) => x.userId === user.id);
  return s;
}

async function join(s, r) {
  const m = mark(s);
  s.emit('join', r);
  await got(s, 'joined', (x) => x.room === r, m);
}

const brokers = [];
async function broker(opts) {
  const b = await startBroker(opts);
  brokers.push(b);
  return b;
}
after(async () => { closeSeeds(); await Promise.all(brokers.map((b) => b.stop())); });

describe('a deployment configured with only its dialect', () => {
  let envRooms;
  before(async () => { envRooms = await broker({ config: env.conf, env: { PUSHDESK_DIALECT: 'rooms' } }); });

  test('PUSHDESK_DIALECT=rooms: seed 002\'s unmodified client (cookie, no query) gets auth:success, joined, user:joined, message', TT, async () => {
    const [a, b] = [w.user('customer'), w.user('agent')];
    const sa = await seed002(a, envRooms.url);
    const sb = await seed002(b, envRooms.url);
    const r = `project:${randomUUID().slice(0, 8)}`;
    await join(sa, r);
    const ma = mark(sa); const mb = mark(sb);
    await join(sb, r);
    await got(sa, 'user:joined', (x) => x.userId === b.id && x.room === r, ma);
    sb.emit('message', { room: r, text: 'configured, not asked' });
    for (const [s, m] of [[sa, ma], [sb, mb]]) await exactly(s, 'message', 1, (x) => x.text === 'configured, not asked', m);
    // the same free room through the stack's broker (helpdesk by default, rooms asked): one room
    const c = w.user('customer');
    const sc = await openAs(c, 'rooms');
    const mc = mark(sc);
    await join(sc, r);
    await got(sa, 'user:joined', (x) => x.userId === c.id, ma);
    sa.emit('message', { room: r, text: 'across brokers and configurations' });
    await got(sc, 'message', (x) => x.text === 'across brokers and configurations', mc);
  });

  test('the same broker: ?dialect=helpdesk still speaks section 3; seed 001\'s namespaces are served; unknown dialect refused', TT, async () => {
    const t = await mkTicket(w.customer);
    const h = await openAs(w.customer, 'helpdesk', { url: envRooms.url });
    assert.deepEqual(await ack(h, 'ticket:join', t.id), { ok: true });
    const tk = await openAs(w.agent, null, { url: envRooms.url, nsp: '/tickets' });
    const m = mark(tk);
    tk.emit('ticket:subscribe', { ticketId: t.id });
    await got(tk, 'ticket:subscribed', (x) => x.ticketId === t.id, m);
    // a plain client with a token and no query speaks rooms here
    const plain = await openAs(w.agent2, null, { url: envRooms.url });
    await join(plain, `free-${randomUUID().slice(0, 6)}`);
    assert.equal(await refused(dialectSocket(w.agent, 'klingon', { url: envRooms.url })), 'Invalid dialect');
  });

  test('`dialect = rooms` in the file (a copy of the stack\'s) serves the seed 002 client likewise', TT, async () => {
    const b = await broker({ config: brokerConfig({ dialect: 'rooms' }) });
    const u = w.user('customer');
    const s = await seed002(u, b.url);
    await join(s, `project:${randomUUID().slice(0, 8)}`);
    const m = mark(s);
    s.emit('presence', 'away');
    // no acknowledgement: wait for the status to be stored (not a fixed time)
    let st;
    await waitFor(async () => {
      st = (await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent)).data[0].status;
      return st === 'away';
    }, { what: `${u.id} away in GET /presence` }).catch(() => {});
    assert.deepEqual(seen(s, 'error', () => true, m), []);
    assert.equal(st, 'away');
  });

  test('PUSHDESK_DIALECT=workspace: seed 004\'s client (auth.token, no query); MISSING_TOKEN; the staff feed', TT, async () => {
    const b = await broker({ config: env.conf, env: { PUSHDESK_DIALECT: 'workspace' } });
    const io = (user, token) => seedSocket(b.url, { auth: token === null ? {} : { token }, transports: ['websocket'] }, user);
    assert.equal(await refused(io(w.agent, null)), 'MISSING_TOKEN');
    assert.equal(await refused(io(w.agent, 'x.y.z')), 'INVALID_TOKEN');
    const s = await connected(io(w.agent, foreignToken(w.agent, { role: 'AGENT' })), 'seed 004 client');
    const t = await mkTicket(w.customer);
    const m = mark(s);
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'help' }, w.customer);
    const [x] = await exactly(s, 'user_message', 1, (y) => y.message && y.message.id === p.id, m);
    assert.equal(x.conversationId, t.id);
  });

  test('PUSHDESK_DIALECT=presence: seed 003\'s client (no query) gets presence:connected and its lists', TT, async () => {
    const b = await broker({ config: env.conf, env: { PUSHDESK_DIALECT: 'presence' } });
    const org = world();
    const [c, f] = [org.user('customer'), org.user('agent')];
    const io = (u) => connected(seedSocket(b.url, { auth: { token: foreignToken(u, { role: SEED_ROLE[u.role] }) }, transports: ['websocket'] }, u), 'seed 003 client');
    const sc = await io(c);
    const l0 = await got(sc, 'presence:connected');
    assert.ok(Array.isArray(l0));
    const m = mark(sc);
    await io(f);
    await got(sc, 'presence:update', (x) => Array.isArray(x) && x.some((e) => e.userId === f.id), m);
  });
});

describe('broker_path: seed 002\'s SOCKET_PATH', () => {
  test('broker_path = /realtime/ serves the client whose path option is /realtime, not /socket.io/', TT, async () => {
    const b = await broker({ config: brokerConfig({ broker_path: '/realtime/' }) });
    const u = w.user('customer');
    const cookie = await loginCookie(u);
    const io = (path) => seedSocket(b.url, { path, transports: ['websocket', 'polling'], withCredentials: true, query: { dialect: 'rooms' }, extraHeaders: { cookie } }, u);
    const s = await connected(io('/realtime'), 'SOCKET_PATH=/realtime');
    s.emit('auth', { userId: u.id });
    await got(s, 'auth:success', (x) => x.userId === u.id);
    await join(s, 'project:path');
    const wrong = io('/socket.io');
    const r = await refused(wrong, 'the default path on a broker moved elsewhere');
    assert.ok(typeof r === 'string');
  });
});

describe('per connection on the stack\'s broker (default helpdesk)', () => {
  test('no query: the helpdesk (join is BAD_REQUEST, ticket:join works); ?dialect=rooms: join works; unknown dialect: connect_error Invalid dialect', TT, async () => {
    const t = await mkTicket(w.customer);
    const h = await openAs(w.customer, null);
    let m = mark(h);
    h.emit('join', 'project:1');
    await errorOf(h, m, 'BAD_REQUEST', 'join on the helpdesk vocabulary');
    assert.deepEqual(await ack(h, 'ticket:join', t.id), { ok: true });
    const r = await openAs(w.customer, 'rooms');
    await join(r, 'project:1');
    const explicit = await openAs(w.customer, 'helpdesk');
    assert.deepEqual(await ack(explicit, 'ticket:join', t.id), { ok: true });
    for (const transports of [['websocket'], ['polling']]) {
      for (const name of ['klingon', 'rooms2', 'x'.repeat(300)]) {
        assert.equal(await refused(dialectSocket(w.customer, name, { transports }), `${name.slice(0, 20)} ${transports}`), 'Invalid dialect', `dialect ${name.slice(0, 20)} over ${transports}`);
      }
    }
    // the refusals left the broker serving
    m = mark(r);
    r.emit('message', { room: 'project:1', text: 'still here' });
    await got(r, 'message', (x) => x.text === 'still here', m);
  });

  test('one ticket room, members of every dialect and namespace: each gets the event once, in its own vocabulary', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const helpdesk = await openAs(w.agent, null);
    assert.deepEqual(await ack(helpdesk, 'ticket:join', t.id), { ok: true });
    const tickets = await openAs(w.agent, null, { nsp: '/tickets' });
    let m = mark(tickets);
    tickets.emit('ticket:subscribe', { ticketId: t.id });
    await got(tickets, 'ticket:subscribed', () => true, m);
    const rooms = await openAs(c, 'rooms');
    await join(rooms, `ticket:${t.id}`);
    const presence = await openAs(c, 'presence', { token: foreignToken(c, { role: 'CLIENT' }) });
    const workspace = await openAs(c, 'workspace', { token: foreignToken(c, { role: 'CLIENT' }) });
    // acknowledged: the joins are access-checked in the database, and the
    // message below needs them done (not a fixed wait)
    for (const [s, arg] of [[presence, { conversationId: t.id }], [workspace, t.id]]) {
      const jr = await ack(s, 'join_conversation', arg);
      assert.ok(!(jr && jr.error), `join_conversation: ${JSON.stringify(jr)}`);
    }
    const all = { helpdesk, tickets, rooms, presence, workspace };
    const ms = Object.fromEntries(Object.entries(all).map(([k, s]) => [k, mark(s)]));
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'to every dialect' }, w.agent2);
    await exactly(helpdesk, 'message:new', 1, (x) => x.id === p.id, ms.helpdesk, 'helpdesk');
    await exactly(tickets, 'message:new', 1, (x) => x.id === p.id, ms.tickets, '/tickets');
    await exactly(rooms, 'message:new', 1, (x) => x.id === p.id, ms.rooms, 'rooms');
    const [pn] = await exactly(presence, 'new_message', 1, (x) => x.message && x.message.id === p.id, ms.presence, 'presence');
    assert.equal(pn.conversationId, t.id);
    assert.equal(pn.message.conversationId, t.id);
    const [wn] = await exactly(workspace, 'new_message', 1, (x) => x.message && x.message.id === p.id, ms.workspace, 'workspace');
    assert.equal(wn.message.role, 'HUMAN_AGENT');
    assert.equal(seen(presence, 'message:new', () => true, ms.presence).length + seen(workspace, 'message:new', () => true, ms.workspace).length, 0,
      'the dialects that rename message:new do not get it twice');
    // a backend's own event to the room: unchanged, once each
    const tag = randomUUID();
    await must(202, 'POST', '/emit', { rooms: [`ticket:${t.id}`], event: 'custom', data: { tag } }, w.admin);
    for (const [k, s] of Object.entries(all)) {
      if (k === 'tickets') continue; // /tickets is another namespace; POST /emit names /
      const [x] = await exactly(s, 'custom', 1, (y) => y.tag === tag, ms[k], k);
      assert.deepEqual(x, { tag });
    }
    m = mark(helpdesk);
    await must(202, 'POST', '/emit', { rooms: [`conv:${t.id}`], event: 'custom2', data: { tag } }, w.admin);
    await exactly(helpdesk, 'custom2', 1, () => true, m, 'conv:<id> is ticket:<id>');
  });
});

describe('rate limits configured for internal events bind their aliases', () => {
  let b;
  before(async () => {
    b = await broker({ config: brokerConfig({ rate_typing_start: '3/10', rate_message_send: '2/10', rate_presence_status: '2/60' }) });
  });

  const limitedAfter = async (s, n, send, what) => {
    const m = mark(s);
    for (let i = 0; i < n; i++) send(i);
    await sleep(700);
    assert.deepEqual(seen(s, 'error', () => true, m), [], `${what}: the first ${n} pass`);
    send(n);
    const e = await errorOf(s, m, 'RATE_LIMITED', `${what}: #${n + 1}`);
    assert.ok(e.retryAfter > 0, `retryAfter ${e.retryAfter}`);
  };

  test('ticket:typing (typing:start 3/10), chat:message (message:send 2/10), rooms typing:start and presence, presence send_message', TT, async () => {
    const t = await mkTicket(w.customer);
    const tk = await openAs(w.customer, null, { url: b.url, nsp: '/tickets' });
    let m = mark(tk);
    tk.emit('ticket:subscribe', { ticketId: t.id });
    await got(tk, 'ticket:subscribed', () => true, m);
    await limitedAfter(tk, 3, () => tk.emit('ticket:typing', { ticketId: t.id }), 'ticket:typing');
    const ch = await openAs(w.customer, null, { url: b.url, nsp: '/chat' });
    m = mark(ch);
    ch.emit('ticket:subscribe', { ticketId: t.id });
    await got(ch, 'ticket:subscribed', () => true, m);
    await limitedAfter(ch, 2, (i) => ch.emit('chat:message', { ticketId: t.id, content: `c${i}` }), 'chat:message');
    const r = await openAs(w.customer, 'rooms', { url: b.url });
    await join(r, 'typing-room');
    await limitedAfter(r, 3, () => r.emit('typing:start', 'typing-room'), 'rooms typing:start');
    await limitedAfter(r, 2, (i) => r.emit('presence', i % 2 ? 'away' : 'busy'), 'rooms presence');
    const p = await openAs(w.customer, 'presence', { url: b.url, token: foreignToken(w.customer, { role: 'CLIENT' }) });
    const jr = await ack(p, 'join_conversation', { conversationId: t.id });
    assert.ok(!(jr && jr.error), `join_conversation: ${JSON.stringify(jr)}`);
    await limitedAfter(p, 2, (i) => p.emit('send_message', { conversationId: t.id, content: `p${i}` }), 'send_message');
  });
});

void quiet; void o;
