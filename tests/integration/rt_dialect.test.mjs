// Dialects (contract 7), as the broker implements them: the vocabulary a
// connection speaks is chosen by ?dialect= or the `dialect` key; seed 001's
// namespaces are views of "/" (same rooms, same handlers); the rooms
// dialect's free rooms; the workspace dialect's handshake errors and alias
// rooms; every check of section 3 still runs and bad input leaves the
// connection usable. Run on the stack's broker (through nginx) and a second
// broker B of our own on the same Valkey and database whose `dialect` key is
// `rooms`, so that both the key and the query, and cross-broker delivery,
// are exercised.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, must, mkTicket, open, client, outcome, close, closeAll, ack, mark, seen, next, quiet,
  errorEvent, assertErrEvent, assertOkAck, hasKeys, sleep, brokerConfig, confValue, requireNode, env, MESSAGE,
} from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';

const KEY = confValue('adapter_key', 'socket.io') || 'socket.io';
const TYPING_MS = Number(confValue('typing_timeout', '5000')) || 5000;
const w = world();
const o = world(); // another organization
let B;

before(async () => {
  B = await startBroker({ config: brokerConfig({ dialect: 'rooms' }) });
});
after(async () => {
  closeAll();
  if (B) await B.stop();
});
afterEach(() => closeAll());

const rooms = (u, opts = {}) => open(u, { query: { dialect: 'rooms' }, ...opts });
const onB = (u, opts = {}) => open(u, { url: B.url, ...opts });
const view = (u, nsp, opts = {}) => open(u, { nsp, ...opts });

describe('selection', () => {
  test('unknown ?dialect= is connect_error "Invalid dialect"; workspace names its handshake errors', T, async () => {
    let r = await outcome(client(w.agent, { query: { dialect: 'klingon' } }));
    assert.deepEqual([r.ok, r.message], [false, 'Invalid dialect']);
    r = await outcome(client(w.agent, { url: B.url, query: { dialect: '' } }));
    assert.deepEqual([r.ok, r.message], [false, 'Invalid dialect']);
    r = await outcome(client('', { auth: {}, query: { dialect: 'workspace' } }));
    assert.deepEqual([r.ok, r.message], [false, 'MISSING_TOKEN']);
    r = await outcome(client('not.a.jwt', { query: { dialect: 'workspace' } }));
    assert.deepEqual([r.ok, r.message], [false, 'INVALID_TOKEN']);
    // the default vocabulary keeps contract 3's names
    r = await outcome(client('not.a.jwt'));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_INVALID']);
    r = await outcome(client('not.a.jwt', { nsp: '/tickets' }));
    assert.deepEqual([r.ok, r.message], [false, 'AUTH_TOKEN_INVALID']);
  });

  test('the dialect key: an unmodified client on B speaks rooms; ?dialect=helpdesk overrides it', T, async () => {
    const a = await onB(w.agent);
    const m = mark(a);
    a.emit('join', 'project:key');
    assert.deepEqual(await next(a, 'joined', () => true, { since: m }), { room: 'project:key' });
    const h = await onB(w.agent2, { query: { dialect: 'helpdesk' } });
    const mh = mark(h);
    h.emit('join', 'project:key');
    assertErrEvent(await errorEvent(h, mh), 'BAD_REQUEST', 'join is not a helpdesk event');
    const t = await mkTicket(w.customer);
    assertOkAck(await ack(h, 'ticket:join', t.id));
  });
});

describe('seed 001 namespaces are views of "/"', () => {
  test('/tickets: subscribe, refusal, message:new and ticket:updated from "/" and the API, typing both ways', T, async () => {
    const t = await mkTicket(w.customer);
    const ag = await view(w.agent, '/tickets');
    const other = await view(w.customer2, '/tickets');
    const cs = await open(w.customer); // the customer on "/"
    let m = mark(ag);
    ag.emit('ticket:subscribe', { ticketId: t.id });
    assert.deepEqual(await next(ag, 'ticket:subscribed', () => true, { since: m }), { ticketId: t.id });
    // another customer's ticket: FORBIDDEN, and the socket stays usable
    const mo = mark(other);
    other.emit('ticket:subscribe', { ticketId: t.id });
    assertErrEvent(await errorEvent(other, mo), ['FORBIDDEN', 'NOT_FOUND']);
    const t2 = await mkTicket(w.customer2);
    other.emit('ticket:subscribe', { ticketId: t2.id });
    await next(other, 'ticket:subscribed', (x) => x.ticketId === t2.id, { since: mo });
    // message:send on "/" reaches the view
    assertOkAck(await ack(cs, 'ticket:join', t.id));
    m = mark(ag);
    const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'to the view' });
    assertOkAck(r);
    assert.equal(r.delivered, true, 'the agent on /tickets is in ticket:<id>');
    const got = await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m });
    hasKeys(got, MESSAGE, 'message:new on /tickets');
    await quiet(other, 'message:new', () => true, 300, mo, 'not subscribed');
    // an API change (outbox -> Valkey adapter on "/")
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending' }, w.agent);
    const up = await next(ag, 'ticket:updated', (x) => x.id === t.id && x.status === 'pending', { since: m });
    assert.equal(typeof up.updatedAt, 'string');
    // ticket:typing on the view -> typing:start on "/", ticket:typing on the view
    const mc = mark(cs);
    const other2 = await view(w.admin, '/tickets');
    other2.emit('ticket:subscribe', { ticketId: t.id });
    await next(other2, 'ticket:subscribed');
    const m2 = mark(other2);
    ag.emit('ticket:typing', { ticketId: t.id });
    const ts = await next(cs, 'typing:start', (x) => x.ticketId === t.id, { since: mc });
    assert.equal(ts.userId, w.agent.id);
    const tt = await next(other2, 'ticket:typing', (x) => x.ticketId === t.id, { since: m2 });
    assert.deepEqual(tt, { ticketId: t.id, user: { id: w.agent.id, name: w.agent.name } });
    assert.equal(seen(ag, 'ticket:typing', () => true, m).length, 0, 'not to the sender');
    // ... and stops by itself
    const st = await next(other2, 'ticket:stopTyping', (x) => x.ticketId === t.id, { since: m2, ms: TYPING_MS + 4000 });
    assert.equal(st.userId, w.agent.id);
    // unsubscribe
    ag.emit('ticket:unsubscribe', { ticketId: t.id });
    await next(ag, 'ticket:unsubscribed', (x) => x.ticketId === t.id);
    const m3 = mark(ag);
    assertOkAck(await ack(cs, 'message:send', { ticketId: t.id, content: 'after unsubscribe' }));
    await quiet(ag, 'message:new', () => true, 500, m3, 'after ticket:unsubscribe');
  });

  test('/chat: chat:message is message:send with the same ack; /notifications: count on connect; /presence: INVALID_STATUS', T, async () => {
    const t = await mkTicket(w.customer);
    const ch = await view(w.customer, '/chat');
    const ag = await view(w.agent, '/chat');
    ag.emit('ticket:subscribe', { ticketId: t.id });
    await next(ag, 'ticket:subscribed');
    ch.emit('ticket:subscribe', { ticketId: t.id });
    await next(ch, 'ticket:subscribed');
    const m = mark(ag);
    const r = await ack(ch, 'chat:message', { ticketId: t.id, content: 'via /chat' });
    assertOkAck(r);
    hasKeys(r.message, MESSAGE, 'ack message');
    assert.equal(r.delivered, true);
    await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m });
    // the same rate budget: chat:message counts as message:send (5 per 1 s)
    const many = await Promise.all(Array.from({ length: 7 }, (_, i) => ack(ch, 'chat:message', { ticketId: t.id, content: `burst ${i}` })));
    assert.ok(many.some((x) => x && x.error && x.error.code === 'RATE_LIMITED'), 'a burst of 7 chat:message hits the message:send limit');

    const n = await view(w.customer, '/notifications');
    const cnt = await next(n, 'notification:count');
    assert.equal(typeof cnt.unread, 'number');

    const obs = await open(w.agent2);
    const p = await view(w.agent, '/presence');
    let mp = mark(p);
    p.emit('presence:status', { status: 'sleeping' });
    assertErrEvent(await errorEvent(p, mp), 'INVALID_STATUS');
    const mo = mark(obs);
    mp = mark(p);
    p.emit('presence:status', { status: 'busy' });
    await next(obs, 'presence:update', (x) => x.userId === w.agent.id && x.status === 'busy', { since: mo });
    // the view is no member of org:<org>: its own user has no team here, so nothing comes back to it
    // the view drops what it does not speak
    assert.equal(seen(p, 'user:online').length, 0);
  });

  test('across brokers: a /tickets subscriber on B gets message:new from a send on the stack\'s broker', T, async () => {
    const t = await mkTicket(w.customer);
    const ag = await onB(w.agent, { nsp: '/tickets' });
    ag.emit('ticket:subscribe', { ticketId: t.id });
    await next(ag, 'ticket:subscribed');
    const cs = await open(w.customer);
    assertOkAck(await ack(cs, 'ticket:join', t.id));
    const m = mark(ag);
    const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'to B' });
    assert.equal(r.delivered, true);
    await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m });
    assert.equal(seen(ag, 'message:new', (x) => x.id === r.message.id, m).length, 1, 'once');
  });
});

describe('rooms dialect (seed 002)', () => {
  test('free rooms per org: joined, user:joined, message to members incl. the sender, typing, leave, disconnect', T, async () => {
    const room = `project:${Date.now()}`;
    const a = await rooms(w.agent);
    const b = await onB(w.customer); // B speaks rooms by its key
    const x = await rooms(o.agent);  // another org, same name
    for (const s of [a, b, x]) s.emit('auth', { userId: s.user.id });
    for (const s of [a, b, x]) assert.deepEqual(await next(s, 'auth:success'), { userId: s.user.id });
    let ma = mark(a);
    a.emit('join', room);
    assert.deepEqual(await next(a, 'joined', () => true, { since: ma }), { room });
    const mx = mark(x);
    x.emit('join', room);
    await next(x, 'joined', () => true, { since: mx });
    ma = mark(a);
    b.emit('join', room);
    await next(b, 'joined');
    assert.deepEqual(await next(a, 'user:joined', () => true, { since: ma }), { userId: w.customer.id, room });
    assert.equal(seen(x, 'user:joined', (e) => e.userId === w.customer.id, mx).length, 0, 'other org');
    // message to every member, the sender included, across brokers
    const mb = mark(b);
    b.emit('message', { room, text: 'hello room' });
    const ga = await next(a, 'message', (e) => e.text === 'hello room', { since: ma });
    const gb = await next(b, 'message', (e) => e.text === 'hello room', { since: mb });
    hasKeys(ga, ['id', 'room', 'text', 'userId', 'userName', 'createdAt'], 'room message');
    assert.deepEqual(ga, gb);
    assert.equal(ga.room, room);
    assert.equal(ga.userId, w.customer.id);
    assert.match(ga.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    await quiet(x, 'message', () => true, 300, mx, 'another org never meets');
    // typing in the room, except the sender, stopping by itself
    a.emit('typing:start', room);
    assert.deepEqual(await next(b, 'typing:start', (e) => e.room === room, { since: mb }), { userId: w.agent.id, room });
    await next(b, 'typing:stop', (e) => e.room === room, { since: mb, ms: TYPING_MS + 4000 });
    assert.equal(seen(a, 'typing:start', (e) => e.room === room, ma).length, 0);
    // presence as a bare string
    const mb2 = mark(b);
    a.emit('presence', 'away');
    await next(b, 'presence:update', (e) => e.userId === w.agent.id && e.status === 'away', { since: mb2 });
    // leave and disconnect: user:left
    a.emit('leave', room);
    assert.deepEqual(await next(a, 'left'), { room });
    assert.deepEqual(await next(b, 'user:left', () => true, { since: mb2 }), { userId: w.agent.id, room });
    const a2 = await rooms(w.agent2);
    a2.emit('join', room);
    await next(a2, 'joined');
    const mb3 = mark(b);
    close(a2);
    assert.deepEqual(await next(b, 'user:left', () => true, { since: mb3 }), { userId: w.agent2.id, room });
  });

  test('join ticket:<id> is access-checked; bad input gets its error and the connection stays usable', T, async () => {
    const t = await mkTicket(w.customer);
    const c2 = await rooms(w.customer2);
    const cases = [
      ['join', `ticket:${t.id}`, ['FORBIDDEN', 'NOT_FOUND']],
      ['join', `org:${w.org}`, 'FORBIDDEN'],
      ['join', `user:${w.customer.id}`, 'FORBIDDEN'],
      ['join', `agents:${w.org}`, 'FORBIDDEN'],
      ['join', `ws:${w.org}`, 'FORBIDDEN'],
      ['join', 'presence:x', 'FORBIDDEN'],
      ['join', 'free:x:y', 'FORBIDDEN'],
      ['join', 42, 'BAD_REQUEST'],
      ['join', { room: 'x' }, 'BAD_REQUEST'],
      ['join', '', 'BAD_REQUEST'],
      ['join', 'x'.repeat(300), 'BAD_REQUEST'],
      ['join', 'bad\u0001name', 'BAD_REQUEST'],
      ['message', { room: 'never-joined', text: 'x' }, 'FORBIDDEN'],
      ['message', { room: 'r', text: 5 }, 'BAD_REQUEST'],
      ['message', 'text only', 'BAD_REQUEST'],
      ['typing:start', 'never-joined', 'FORBIDDEN'],
      ['presence', 'sleeping', 'BAD_REQUEST'],
      ['auth', { userId: w.customer.id }, 'FORBIDDEN'],
      ['auth', { userId: w.customer2.id, token: w.customer.token }, 'FORBIDDEN'],
      ['auth', { userId: w.customer2.id, token: 'not.a.jwt' }, 'FORBIDDEN'],
      ['ticket:join', t.id, 'BAD_REQUEST'], // not a rooms event
    ];
    for (const [ev, arg, code] of cases) {
      const m = mark(c2);
      c2.emit(ev, arg);
      assertErrEvent(await errorEvent(c2, m), code, `${ev} ${JSON.stringify(arg).slice(0, 40)}`);
    }
    // still usable; the owner may join the ticket's room by name
    const mine = await mkTicket(w.customer2);
    c2.emit('join', `ticket:${mine.id}`);
    assert.deepEqual(await next(c2, 'joined', (e) => e.room === `ticket:${mine.id}`), { room: `ticket:${mine.id}` });
    c2.emit('auth', { userId: w.customer2.id, token: w.customer2.token });
    await next(c2, 'auth:success');
  });

  test('a flood of joins through the alias counts on one budget (rate_default)', T, async () => {
    const c = await rooms(w.user('customer'));
    for (let i = 0; i < 105; i++) c.emit('join', `flood-${i % 3}`);
    const e = await next(c, 'error', (x) => x.code === 'RATE_LIMITED');
    assert.equal(typeof e.retryAfter, 'number');
  });
});

describe('alias rooms from a backend (@socket.io/redis-emitter)', () => {
  test('ws:<org> reaches the org\'s staff and conv:<id> the ticket room, on every dialect and broker', T, async () => {
    const { Emitter } = requireNode('@socket.io/redis-emitter');
    const { createClient } = requireNode('redis');
    const rc = createClient({ url: env.redisUrl });
    rc.on('error', () => {});
    await rc.connect();
    try {
      const t = await mkTicket(w.customer);
      const wsAgent = await open(w.agent, { query: { dialect: 'workspace' } });
      const hdAgent = await onB(w.agent2, { query: { dialect: 'helpdesk' } });
      const cust = await open(w.customer, { query: { dialect: 'workspace' } });
      const oth = await open(o.agent, { query: { dialect: 'workspace' } });
      let m = mark(wsAgent);
      // acknowledged: the join is access-checked in the database, and the
      // emitter's conv:<id> event below needs it done (not a fixed wait)
      const jr = await ack(wsAgent, 'join_conversation', t.id);
      assert.ok(!(jr && jr.error), `join_conversation accepted: ${JSON.stringify(jr)}`);
      assert.equal(seen(wsAgent, 'error', () => true, m).length, 0, 'join_conversation accepted');
      const em = new Emitter(rc, { key: KEY });
      const ms = [wsAgent, hdAgent, cust, oth].map(mark);
      em.to(`ws:${w.org}`).emit('handoff_triggered', { conversationId: t.id });
      await next(wsAgent, 'handoff_triggered', (x) => x.conversationId === t.id, { since: ms[0] });
      await next(hdAgent, 'handoff_triggered', (x) => x.conversationId === t.id, { since: ms[1] });
      await quiet(cust, 'handoff_triggered', () => true, 300, ms[2], 'customers are not staff');
      await quiet(oth, 'handoff_triggered', () => true, 0, ms[3], 'another org');
      em.to(`conv:${t.id}`).emit('credits_updated', { left: 3 });
      await next(wsAgent, 'credits_updated', (x) => x.left === 3, { since: ms[0] });
      // a customer's message: user_message to the org's staff (ws:<org>), joined
      // or not, once each; staff's: new_message (HUMAN_AGENT)
      const feed = await onB(w.admin, { query: { dialect: 'workspace' } });
      const cs = await open(w.customer);
      assertOkAck(await ack(cs, 'ticket:join', t.id));
      m = mark(wsAgent);
      const mf = mark(feed);
      const r = await ack(cs, 'message:send', { ticketId: t.id, content: 'need help' });
      const um = await next(wsAgent, 'user_message', (x) => x.message.id === r.message.id, { since: m });
      assert.deepEqual(um, {
        conversationId: t.id,
        message: { id: r.message.id, role: 'USER', content: 'need help', channelType: 'WEB', createdAt: r.message.createdAt },
      });
      assert.deepEqual(await next(feed, 'user_message', (x) => x.message.id === r.message.id, { since: mf }), um);
      const sent = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'on it' }, w.agent);
      const nm = await next(feed, 'new_message', (x) => x.message.id === sent.id, { since: mf });
      assert.deepEqual(nm, { conversationId: t.id, message: { id: sent.id, role: 'HUMAN_AGENT', content: 'on it', createdAt: sent.createdAt } });
      await next(wsAgent, 'new_message', (x) => x.message.id === sent.id, { since: m });
      await sleep(300);
      assert.equal(seen(wsAgent, 'user_message', (x) => x.message.id === r.message.id, m).length, 1, 'once, though in ws: and conv:');
      assert.equal(seen(wsAgent, 'message:new', () => true, m).length, 0, 'the workspace dialect has no message:new');
      assert.equal(seen(cs, 'message:feed', () => true).length, 0, 'helpdesk clients never see the feed');
      await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'resolved' }, w.admin);
      const sc = await next(wsAgent, 'conversation_status_changed', (x) => x.conversationId === t.id, { since: m });
      assert.equal(sc.status, 'RESOLVED');
      // bad input in the workspace dialect
      const mw = mark(wsAgent);
      wsAgent.emit('join_conversation', { nope: 1 });
      assertErrEvent(await errorEvent(wsAgent, mw), 'BAD_REQUEST');
      const t3 = await mkTicket(o.customer);
      const mw2 = mark(wsAgent);
      wsAgent.emit('join_conversation', t3.id);
      assertErrEvent(await errorEvent(wsAgent, mw2), ['FORBIDDEN', 'NOT_FOUND'], 'another org\'s conversation');
    } finally {
      await rc.quit().catch(() => {});
    }
  });
});

describe('presence dialect (seed 003)', () => {
  const pres = (u, opts = {}) => open(u, { query: { dialect: 'presence' }, ...opts });
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
  const entry = (list, id) => Array.isArray(list) && list.find((x) => x.userId === id);

  test('presence lists across brokers, chattingWith, conversations, send_message, read at once, bad input', T, async () => {
    const x = world();
    const ag = await pres(x.agent);
    const conn = await next(ag, 'presence:connected');
    assert.ok(Array.isArray(conn), 'presence:connected is a list');
    const me = entry(conn, x.agent.id);
    assert.ok(me, `the new user is in the list: ${JSON.stringify(conn)}`);
    assert.deepEqual(Object.keys(me).sort(), ['chattingWith', 'lastActive', 'role', 'userId']);
    assert.equal(me.role, 'agent');
    assert.match(me.lastActive, ISO);
    assert.equal(me.chattingWith, null);
    const hd = await open(x.admin); // helpdesk: never the lists
    // a user coming online on the other broker: presence:update [list]
    let m = mark(ag);
    const cu = await pres(x.customer, { url: B.url });
    await next(cu, 'presence:connected', (l) => entry(l, x.customer.id) && entry(l, x.agent.id));
    await next(ag, 'presence:update', (l) => Array.isArray(l) && entry(l, x.customer.id), { since: m });
    // chattingWith
    m = mark(cu);
    ag.emit('chat:focus', { partnerId: x.customer.id });
    const upd = await next(cu, 'presence:update', (l) => Array.isArray(l) && entry(l, x.agent.id)?.chattingWith === x.customer.id, { since: m });
    assert.equal(entry(upd, x.customer.id).role, 'customer');
    ag.emit('heartbeat');
    // a conversation: join (object or bare id), send_message, message:sent, new_message
    const t = await mkTicket(x.customer);
    // acknowledged: the joins are access-checked in the database, and
    // new_message below needs them done (not a fixed wait)
    for (const [s, arg] of [[ag, { conversationId: t.id }], [cu, t.id]]) {
      const jr = await ack(s, 'join_conversation', arg);
      assert.ok(!(jr && jr.error), `join_conversation: ${JSON.stringify(jr)}`);
    }
    const ma = mark(ag); const mc = mark(cu);
    cu.emit('send_message', { conversationId: t.id, content: 'hi agent' });
    const sent = await next(cu, 'message:sent', () => true, { since: mc });
    assert.equal(sent.conversationId, t.id);
    assert.equal(sent.delivered, true);
    hasKeys(sent.message, ['id', 'conversationId', 'content', 'senderId', 'senderName', 'senderRole', 'createdAt'], 'message:sent message');
    assert.deepEqual(Object.keys(sent.message).sort(), ['content', 'conversationId', 'createdAt', 'id', 'senderId', 'senderName', 'senderRole']);
    const nm = await next(ag, 'new_message', (e) => e.message.id === sent.message.id, { since: ma });
    assert.deepEqual(nm.message, sent.message);
    assert.equal(nm.conversationId, t.id);
    assert.equal(typeof nm.eventId, 'number');
    // the agent chats with the sender: read at once (message:read as section 3)
    const hdc = await open(x.customer); // a helpdesk socket of the customer in the room sees message:read
    assertOkAck(await ack(hdc, 'ticket:join', t.id));
    const mh = mark(hdc);
    cu.emit('send_message', { conversationId: t.id, content: 'are you there?' });
    const s2 = await next(cu, 'message:sent', (e) => e.message.content === 'are you there?', { since: mc });
    await next(hdc, 'message:read', (e) => e.messageId === s2.message.id && e.userId === x.agent.id, { since: mh });
    assert.equal(seen(hd, 'presence:roster').length + seen(hd, 'presence:update', (e) => Array.isArray(e)).length, 0, 'helpdesk never sees the lists');
    // bad input: another org's user, wrong types; the socket stays usable
    for (const [ev, arg, code] of [
      ['chat:focus', { partnerId: o.customer.id }, 'NOT_FOUND'],
      ['chat:focus', { partnerId: 7 }, 'BAD_REQUEST'],
      ['join_conversation', { conversationId: 5 }, 'BAD_REQUEST'],
      ['send_message', { conversationId: t.id }, 'BAD_REQUEST'],
      ['send_message', 'x', 'BAD_REQUEST'],
    ]) {
      const mm = mark(ag);
      ag.emit(ev, arg);
      assertErrEvent(await errorEvent(ag, mm), code, `${ev} ${JSON.stringify(arg)}`);
    }
    // the last connection gone: the list without the user
    m = mark(ag);
    close(cu);
    close(hdc);
    await next(ag, 'presence:update', (l) => Array.isArray(l) && !entry(l, x.customer.id), { since: m, ms: 10000 });
  });
});
