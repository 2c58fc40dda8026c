// Contract 3.1 row by row, on one broker through nginx ($PD_HTTP/socket.io/):
// every client-to-server event, every server-to-client event, eventId, and
// the automatic rooms. Users and tickets are made with pushdeskctl and the API.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  T, WAIT, world, call, must, mkTicket, messagesOf, open, client, close, closeAll, ack, mark, seen,
  next, nextEntry, quiet, errorEvent, assertErrAck, assertErrEvent, assertOkAck, hasKeys, sleep,
  SUMMARY, MESSAGE, outcome, presenceConns,
} from './lib/rt.mjs';
import { sql } from './api_lib.mjs';

afterEach(() => closeAll());

const w = world();
const o = world(); // another org

describe('3.1 client to server', () => {
  test('ticket:join: own org ok; another org NOT_FOUND; a customer not owning it NOT_FOUND', T, async () => {
    const t = await mkTicket(w.customer);
    const [cust, agent, admin, cust2, foreign] = await Promise.all(
      [w.customer, w.agent, w.admin, w.customer2, o.agent].map((u) => open(u)));
    assert.deepEqual(await ack(cust, 'ticket:join', t.id), { ok: true });
    assertOkAck(await ack(agent, 'ticket:join', t.id), 'agent of the org');
    assertOkAck(await ack(admin, 'ticket:join', t.id), 'admin of the org');
    assertErrAck(await ack(cust2, 'ticket:join', t.id), 'NOT_FOUND', 'customer who does not own it');
    assertErrAck(await ack(foreign, 'ticket:join', t.id), 'NOT_FOUND', 'agent of another org');
    // without an ack: the error event
    let m = mark(cust2);
    cust2.emit('ticket:join', t.id);
    assertErrEvent(await errorEvent(cust2, m), 'NOT_FOUND', 'error event');
    m = mark(foreign);
    foreign.emit('ticket:join', t.id);
    assertErrEvent(await errorEvent(foreign, m), 'NOT_FOUND', 'error event, other org');
    // the joined sockets are in ticket:<id>; the refused ones are not
    const ms = [agent, admin, cust2, foreign].map(mark);
    const posted = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'to the room' }, w.customer);
    await next(agent, 'message:new', (x) => x.id === posted.id, { since: ms[0] });
    await next(admin, 'message:new', (x) => x.id === posted.id, { since: ms[1] });
    await quiet(cust2, 'message:new', () => true, 800, ms[2], 'to a refused customer');
    await quiet(foreign, 'message:new', () => true, 0, ms[3], 'to another org');
  });

  test('ticket:leave: leaves ticket:<id>', T, async () => {
    const t = await mkTicket(w.customer);
    const agent = await open(w.agent2);
    assertOkAck(await ack(agent, 'ticket:join', t.id));
    let m = mark(agent);
    let p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'one' }, w.customer);
    await next(agent, 'message:new', (x) => x.id === p.id, { since: m });
    const r = await ack(agent, 'ticket:leave', t.id);
    assertOkAck(r, 'ticket:leave ack');
    m = mark(agent);
    p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'two' }, w.customer);
    await quiet(agent, 'message:new', (x) => x.id === p.id, 1500, m, 'after ticket:leave');
    // without an ack it works as well (join again, leave again)
    assertOkAck(await ack(agent, 'ticket:join', t.id));
    agent.emit('ticket:leave', t.id);
    await sleep(300);
    m = mark(agent);
    p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'three' }, w.customer);
    await quiet(agent, 'message:new', (x) => x.id === p.id, 1500, m, 'after ticket:leave without ack');
    assert.equal(seen(agent, 'error').length, 0, JSON.stringify(seen(agent, 'error')));
  });

  test('message:send: stored, message:new (with eventId) to the room, ack {ok, message, delivered:true}', T, async () => {
    const t = await mkTicket(w.customer);
    // the receiving agent on HTTP long-polling, the sender on WebSocket
    const [cust, agent] = await Promise.all([open(w.customer), open(w.agent, { transports: ['polling'] })]);
    assertOkAck(await ack(cust, 'ticket:join', t.id));
    assertOkAck(await ack(agent, 'ticket:join', t.id));
    const m = mark(agent);
    const content = `hello ${randomUUID()}`;
    const r = await ack(cust, 'message:send', { ticketId: t.id, content });
    assertOkAck(r, 'message:send');
    hasKeys(r.message, MESSAGE, 'ack.message');
    assert.equal(r.message.content, content);
    assert.equal(r.message.ticketId, t.id);
    assert.equal(r.message.senderId, w.customer.id);
    assert.equal(r.message.senderName, w.customer.name);
    assert.equal(r.message.senderRole, 'customer');
    assert.match(r.message.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(r.delivered, true, 'the agent in ticket:<id> is connected');
    const got = await next(agent, 'message:new', (x) => x.id === r.message.id, { since: m });
    hasKeys(got, MESSAGE, 'message:new');
    assert.equal(got.content, content);
    assert.equal(typeof got.eventId, 'number', 'message:new carries eventId');
    // stored: the API lists it
    const list = await messagesOf(t.id, w.agent);
    const stored = list.find((x) => x.id === r.message.id);
    assert.ok(stored, 'GET /tickets/{id}/messages lists the message');
    assert.equal(stored.content, content);
    assert.equal(stored.senderId, w.customer.id);
    // without an ack: stored and sent all the same
    const m2 = mark(agent);
    cust.emit('message:send', { ticketId: t.id, content: 'no ack' });
    const g2 = await next(agent, 'message:new', (x) => x.content === 'no ack', { since: m2 });
    assert.ok((await messagesOf(t.id, w.customer)).some((x) => x.id === g2.id));
  });

  test('message:send delivered: false when no other participant is connected, true for a live customer or assignee', T, async () => {
    const c = w.user('customer');
    const a = w.user('agent');
    const t = await mkTicket(c);
    // the customer alone, on two devices both in the room: delivered false
    const [c1, c2] = await Promise.all([open(c), open(c)]);
    assertOkAck(await ack(c1, 'ticket:join', t.id));
    assertOkAck(await ack(c2, 'ticket:join', t.id));
    let r = await ack(c1, 'message:send', { ticketId: t.id, content: 'anyone?' });
    assertOkAck(r);
    assert.equal(r.delivered, false, 'only the sender is connected');
    // an agent sends while the customer is connected but not in the room: delivered true
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: a.id }, w.admin);
    const s = await open(w.agent2);
    assertOkAck(await ack(s, 'ticket:join', t.id));
    close(c1); close(c2);
    // the broker left the customer's rooms once it saw both disconnects: it
    // removes their presence in Valkey then (a fixed wait was a guess)
    await presenceConns(c.id, 0);
    r = await ack(s, 'message:send', { ticketId: t.id, content: 'nobody else' });
    assertOkAck(r);
    assert.equal(r.delivered, false, 'customer and assignee offline, nobody else in the room');
    const cNotInRoom = await open(c);
    r = await ack(s, 'message:send', { ticketId: t.id, content: 'customer online' });
    assert.equal(r.delivered, true, 'the ticket\'s customer has a live connection');
    close(cNotInRoom);
    await presenceConns(c.id, 0);
    const assignee = await open(a);
    r = await ack(s, 'message:send', { ticketId: t.id, content: 'assignee online' });
    assert.equal(r.delivered, true, 'the ticket\'s assignee has a live connection');
    close(assignee);
  });

  test('typing:start/stop relayed to the room except the sender\'s own sockets; payloads', T, async () => {
    const t = await mkTicket(w.customer);
    const [c1, c2, ag] = await Promise.all([open(w.customer), open(w.customer), open(w.agent)]);
    for (const s of [c1, c2, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    const ms = [c1, c2, ag].map(mark);
    c1.emit('typing:start', t.id);
    const st = await next(ag, 'typing:start', (x) => x.ticketId === t.id, { since: ms[2] });
    assert.deepEqual({ ...st }, { ticketId: t.id, userId: w.customer.id, userName: w.customer.name });
    c1.emit('typing:stop', t.id);
    const sp = await next(ag, 'typing:stop', (x) => x.ticketId === t.id, { since: ms[2] });
    assert.deepEqual({ ...sp }, { ticketId: t.id, userId: w.customer.id });
    await quiet(c2, 'typing:start', () => true, 800, ms[1], 'to the sender\'s second socket');
    assert.equal(seen(c2, 'typing:stop', () => true, ms[1]).length, 0, 'typing:stop to the sender\'s second socket');
    assert.equal(seen(c1, 'typing:start', () => true, ms[0]).length, 0, 'typing:start echoed to the sender');
    // the agent types: both customer sockets get it
    const m1 = mark(c1); const m2 = mark(c2);
    ag.emit('typing:start', t.id);
    const x1 = await next(c1, 'typing:start', (x) => x.userId === w.agent.id, { since: m1 });
    await next(c2, 'typing:start', (x) => x.userId === w.agent.id, { since: m2 });
    assert.equal(x1.userName, w.agent.name);
    ag.emit('typing:stop', t.id);
    await next(c1, 'typing:stop', (x) => x.userId === w.agent.id, { since: m1 });
  });

  test('typing: a typing:stop follows by itself 5 s after the last typing:start', T, async (tc) => {
    const t = await mkTicket(w.customer);
    const [c, ag] = await Promise.all([open(w.customer), open(w.agent)]);
    for (const s of [c, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    const m = mark(ag);
    c.emit('typing:start', t.id);
    await next(ag, 'typing:start', () => true, { since: m });
    await sleep(2000);
    const last = Date.now();
    c.emit('typing:start', t.id); // the timer restarts
    const e = await nextEntry(ag, 'typing:stop', (x) => x.userId === w.customer.id, { since: m, ms: 9000 });
    const after = e.t - last;
    tc.diagnostic(`automatic typing:stop ${after} ms after the last typing:start`);
    assert.ok(after >= 4500 && after <= 6500, `typing:stop ${after} ms after the last typing:start (want about 5000)`);
    assert.deepEqual({ ...e.args[0] }, { ticketId: t.id, userId: w.customer.id });
    assert.equal(seen(ag, 'typing:stop', () => true, m).length, 1, 'one typing:stop');
  });

  test('typing: a typing:stop follows when the typist disconnects', T, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [cs, ag] = await Promise.all([open(c), open(w.agent)]);
    for (const s of [cs, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    const m = mark(ag);
    cs.emit('typing:start', t.id);
    await next(ag, 'typing:start', (x) => x.userId === c.id, { since: m });
    const gone = Date.now();
    close(cs);
    const e = await nextEntry(ag, 'typing:stop', (x) => x.userId === c.id, { since: m, ms: 3000 });
    assert.ok(e.t - gone < 3000, `typing:stop ${e.t - gone} ms after the disconnect`);
    assert.equal(e.args[0].ticketId, t.id);
  });

  test('presence:ping refreshes presence: acked ok, no error, the user stays online', T, async () => {
    const u = w.user('agent');
    const s = await open(u);
    const m = mark(s);
    s.emit('presence:ping');
    assertOkAck(await ack(s, 'presence:ping'), 'presence:ping ack');
    await sleep(300);
    assert.equal(seen(s, 'error', () => true, m).length, 0, JSON.stringify(seen(s, 'error')));
    const r = await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent);
    assert.equal(r.data[0].status, 'online');
  });

  test('presence:status online/away/busy: stored, presence:update to the org; anything else BAD_REQUEST', T, async () => {
    const u = w.user('agent');
    const [s, peer, cust, foreign] = await Promise.all([open(u), open(w.agent2), open(w.customer2), open(o.agent)]);
    for (const status of ['away', 'busy', 'online']) {
      const ms = [peer, cust, foreign].map(mark);
      const r = await ack(s, 'presence:status', { status });
      assertOkAck(r, `presence:status ${status}`);
      const up = await next(peer, 'presence:update', (x) => x.userId === u.id && x.status === status, { since: ms[0] });
      assert.equal(up.userId, u.id);
      await next(cust, 'presence:update', (x) => x.userId === u.id && x.status === status, { since: ms[1] });
      const api = await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent2);
      assert.equal(api.data[0].status, status, 'stored');
      assert.equal(seen(foreign, 'presence:update', (x) => x.userId === u.id, ms[2]).length, 0, 'not to another org');
    }
    const s2 = await open(u);
    const m = mark(s2);
    s2.emit('presence:status', { status: 'sleeping' });
    assertErrEvent(await errorEvent(s2, m), 'BAD_REQUEST', 'status sleeping');
    assertErrAck(await ack(s2, 'presence:status', { status: 'offline' }), 'BAD_REQUEST', 'status offline');
    const mp = mark(peer);
    assertErrAck(await ack(s2, 'presence:status', {}), 'BAD_REQUEST', 'no status');
    await quiet(peer, 'presence:update', (x) => x.userId === u.id, 500, mp, 'after refused statuses');
    const api = await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent2);
    assert.equal(api.data[0].status, 'online', 'refused statuses changed nothing');
  });

  test('presence:subscribe: presence:list (offline for a never-connected user), then presence:update; unsubscribe stops them', T, async () => {
    const watcher = w.user('agent');
    const on = w.user('agent');
    const never = w.user('customer');
    const later = w.user('agent');
    const [ws, os] = await Promise.all([open(watcher), open(on)]);
    await presenceConns(on.id, 1); // written after on's CONNECT reply
    let m = mark(ws);
    ws.emit('presence:subscribe', { userIds: [on.id, never.id, later.id] });
    const list = await next(ws, 'presence:list', () => true, { since: m });
    assert.ok(Array.isArray(list), `presence:list is an array: ${JSON.stringify(list)}`);
    const by = Object.fromEntries(list.map((x) => [x.userId, x]));
    for (const id of [on.id, never.id, later.id]) {
      assert.ok(by[id], `presence:list names ${id}: ${JSON.stringify(list)}`);
      hasKeys(by[id], ['userId', 'status', 'lastSeen'], 'presence:list entry');
    }
    assert.equal(by[on.id].status, 'online');
    assert.equal(by[never.id].status, 'offline');
    assert.equal(by[later.id].status, 'offline');
    // then presence:update for them: a status change, a connection, a disconnection
    m = mark(ws);
    os.emit('presence:status', { status: 'busy' });
    await next(ws, 'presence:update', (x) => x.userId === on.id && x.status === 'busy', { since: m });
    const ls = await open(later);
    const up = await next(ws, 'presence:update', (x) => x.userId === later.id, { since: m });
    assert.equal(up.status, 'online');
    close(ls);
    const down = await next(ws, 'presence:update', (x) => x.userId === later.id && x.status === 'offline', { since: m });
    assert.equal(down.userId, later.id);
    // unsubscribe: no more presence:update for `later` (user:online still goes to the org)
    const r = await ack(ws, 'presence:unsubscribe', { userIds: [later.id] });
    assertOkAck(r, 'presence:unsubscribe ack');
    m = mark(ws);
    const ls2 = await open(later);
    await next(ws, 'user:online', (x) => x === later.id, { since: m });
    close(ls2);
    await next(ws, 'user:offline', (x) => x === later.id, { since: m });
    await quiet(ws, 'presence:update', (x) => x.userId === later.id, 800, m, 'after presence:unsubscribe');
  });

  test('chat:focus: new messages are marked read at once and message:read goes to the room; chat:blur stops it', T, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [cs, ag] = await Promise.all([open(c), open(w.agent)]);
    for (const s of [cs, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    assertOkAck(await ack(cs, 'chat:focus', { ticketId: t.id }), 'chat:focus ack');
    // a message sent through the broker
    let m = mark(ag);
    const r = await ack(ag, 'message:send', { ticketId: t.id, content: 'seen at once' });
    assertOkAck(r);
    const rd = await next(ag, 'message:read', (x) => x.messageId === r.message.id, { since: m });
    assert.equal(rd.ticketId, t.id);
    assert.equal(rd.userId, c.id);
    assert.equal(typeof rd.eventId, 'number', 'message:read comes from a stored change: eventId');
    const rows = sql(`SELECT count(*) FROM message_reads WHERE message_id = :'m' AND user_id = :'u'`, { m: r.message.id, u: c.id });
    assert.equal(rows[0][0], '1', 'the read is stored');
    // a message posted through the API
    m = mark(ag);
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'via the API' }, w.agent);
    await next(ag, 'message:read', (x) => x.messageId === p.id && x.userId === c.id, { since: m });
    // blur: no more
    assertOkAck(await ack(cs, 'chat:blur'), 'chat:blur ack');
    m = mark(ag);
    const r2 = await ack(ag, 'message:send', { ticketId: t.id, content: 'after blur' });
    await quiet(ag, 'message:read', (x) => x.messageId === r2.message.id, 1500, m, 'after chat:blur');
    const rows2 = sql(`SELECT count(*) FROM message_reads WHERE message_id = :'m' AND user_id = :'u'`, { m: r2.message.id, u: c.id });
    assert.equal(rows2[0][0], '0');
  });

  test('notification:markRead -> notification:count {unread}; markAllRead -> {unread:0}', T, async () => {
    const u = w.user('agent');
    const s = await open(u);
    const first = await next(s, 'notification:count');
    assert.deepEqual({ unread: first.unread }, { unread: 0 });
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const m = mark(s);
      const n = await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: `n${i}`, message: 'x', data: { i } }, w.admin);
      ids.push(n.id);
      await next(s, 'notification', (x) => x.id === n.id, { since: m });
      const c = await next(s, 'notification:count', (x) => x.unread === i + 1, { since: m });
      assert.equal(c.unread, i + 1);
    }
    let m = mark(s);
    s.emit('notification:markRead', { id: ids[0] });
    assert.equal((await next(s, 'notification:count', () => true, { since: m })).unread, 2);
    const api = await must(200, 'GET', '/notifications?unread=1', undefined, u);
    assert.deepEqual(api.data.map((x) => x.id).sort(), [ids[1], ids[2]].sort(), 'stored as read');
    m = mark(s);
    s.emit('notification:markAllRead');
    assert.equal((await next(s, 'notification:count', () => true, { since: m })).unread, 0);
    const api2 = await must(200, 'GET', '/notifications?unread=1', undefined, u);
    assert.equal(api2.data.length, 0);
  });
});

describe('3.1 server to client', () => {
  test('presence:sync: the new socket gets the ids of its org\'s users online now', T, async () => {
    const a = w.user('agent'); const b = w.user('customer'); const gone = w.user('agent');
    const [sa, sb] = await Promise.all([open(a), open(b)]);
    const sg = await open(gone); close(sg);
    const sf = await open(o.agent2);
    // what presence:sync reads: the brokers write it after CONNECT (and after
    // a disconnect), so wait for it rather than for a fixed time
    for (const [u, k] of [[a, 1], [b, 1], [gone, 0], [o.agent2, 1]]) await presenceConns(u.id, k);
    const n = client(w.user('agent'));
    assert.equal((await outcome(n)).ok, true);
    const ids = await next(n, 'presence:sync');
    assert.ok(Array.isArray(ids), `presence:sync is an array: ${JSON.stringify(ids)}`);
    assert.ok(ids.includes(a.id) && ids.includes(b.id), `online users listed: ${JSON.stringify(ids)}`);
    assert.ok(!ids.includes(gone.id), 'a user that disconnected is not listed');
    assert.ok(!ids.includes(o.agent2.id), 'no user of another org');
    void sa; void sb; void sf;
  });

  test('user:online / user:offline: one pair per user even with two devices; not to another org', T, async () => {
    const u = w.user('customer');
    const [obs, foreign] = await Promise.all([open(w.agent), open(o.agent)]);
    const m = mark(obs); const mf = mark(foreign);
    const d1 = await open(u);
    await next(obs, 'user:online', (x) => x === u.id, { since: m });
    const d2 = await open(u, { transports: ['polling'] });
    await presenceConns(u.id, 2); // written after d2's CONNECT reply
    close(d1);
    await sleep(800);
    assert.equal(seen(obs, 'user:offline', (x) => x === u.id, m).length, 0, 'still connected on the second device');
    close(d2);
    await next(obs, 'user:offline', (x) => x === u.id, { since: m });
    await sleep(800);
    assert.equal(seen(obs, 'user:online', (x) => x === u.id, m).length, 1, 'one user:online');
    assert.equal(seen(obs, 'user:offline', (x) => x === u.id, m).length, 1, 'one user:offline');
    assert.equal(seen(foreign, 'user:online', (x) => x === u.id, mf).length + seen(foreign, 'user:offline', (x) => x === u.id, mf).length, 0,
      'another org hears nothing');
  });

  test('ticket:created to agents:<org> and the customer, not to another customer or org', T, async () => {
    const [ag, ad, c1, c2, foreign] = await Promise.all([w.agent, w.admin, w.customer, w.customer2, o.agent].map((u) => open(u)));
    const ms = [ag, ad, c1, c2, foreign].map(mark);
    const t = await mkTicket(w.customer, 'created live');
    for (const [s, mm] of [[ag, ms[0]], [ad, ms[1]], [c1, ms[2]]]) {
      const e = await next(s, 'ticket:created', (x) => x.id === t.id, { since: mm });
      hasKeys(e, SUMMARY, 'ticket:created');
      assert.equal(e.subject, 'created live');
      assert.equal(e.status, 'open');
      assert.equal(e.customerId, w.customer.id);
      assert.equal(e.assigneeId, null);
      assert.equal(typeof e.eventId, 'number');
    }
    // made by an agent for the customer: the customer hears it too
    const t2 = await must(201, 'POST', '/tickets', { subject: 'for you', customerId: w.customer.id }, w.agent);
    await next(c1, 'ticket:created', (x) => x.id === t2.id, { since: ms[2] });
    await quiet(c2, 'ticket:created', () => true, 800, ms[3], 'to another customer');
    assert.equal(seen(foreign, 'ticket:created', () => true, ms[4]).length, 0, 'to another org');
  });

  test('ticket:updated to ticket:<id>, agents:<org> and the customer (summary + updatedAt, updatedBy)', T, async () => {
    const t = await mkTicket(w.customer);
    const [ag, c1, c2, member, foreign] = await Promise.all([w.agent, w.customer, w.customer2, w.agent2, o.admin].map((u) => open(u)));
    assertOkAck(await ack(member, 'ticket:join', t.id));
    const ms = [ag, c1, c2, member, foreign].map(mark);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending', priority: 'high' }, w.admin);
    for (const [s, mm] of [[ag, ms[0]], [c1, ms[1]], [member, ms[3]]]) {
      const e = await next(s, 'ticket:updated', (x) => x.id === t.id, { since: mm });
      hasKeys(e, [...SUMMARY, 'updatedAt', 'updatedBy'], 'ticket:updated');
      assert.equal(e.status, 'pending');
      assert.equal(e.priority, 'high');
      assert.equal(e.updatedBy, w.admin.id);
      assert.equal(typeof e.eventId, 'number');
    }
    await sleep(500);
    for (const [s, mm] of [[ag, ms[0]], [member, ms[3]]]) {
      assert.equal(seen(s, 'ticket:updated', (x) => x.id === t.id, mm).length, 1, 'delivered once (rooms are a union)');
    }
    assert.equal(seen(c2, 'ticket:updated', () => true, ms[2]).length, 0, 'to another customer');
    assert.equal(seen(foreign, 'ticket:updated', () => true, ms[4]).length, 0, 'to another org');
  });

  test('ticket:assigned to the assignee and ticket:<id>', T, async () => {
    const t = await mkTicket(w.customer);
    const assignee = w.user('agent');
    const [as, member, bystander] = await Promise.all([open(assignee), open(w.customer), open(w.agent2)]);
    assertOkAck(await ack(member, 'ticket:join', t.id));
    const ms = [as, member, bystander].map(mark);
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: assignee.id }, w.admin);
    for (const [s, mm] of [[as, ms[0]], [member, ms[1]]]) {
      const e = await next(s, 'ticket:assigned', (x) => x.ticketId === t.id, { since: mm });
      assert.equal(e.assigneeId, assignee.id);
      assert.equal(e.assignedBy, w.admin.id);
      assert.equal(typeof e.eventId, 'number');
    }
    // an agent neither assignee nor in the room gets ticket:updated, not ticket:assigned
    await next(bystander, 'ticket:updated', (x) => x.id === t.id, { since: ms[2] });
    await quiet(bystander, 'ticket:assigned', (x) => x.ticketId === t.id, 500, ms[2], 'to a bystander');
  });

  test('message:updated to ticket:<id>', T, async () => {
    const t = await mkTicket(w.customer);
    const [member, c2] = await Promise.all([open(w.agent), open(w.customer2)]);
    assertOkAck(await ack(member, 'ticket:join', t.id));
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'typo' }, w.customer);
    const m = mark(member); const m2 = mark(c2);
    await must(200, 'PATCH', `/messages/${p.id}`, { content: 'fixed' }, w.customer);
    const e = await next(member, 'message:updated', (x) => x.id === p.id, { since: m });
    hasKeys(e, MESSAGE, 'message:updated');
    assert.equal(e.content, 'fixed');
    assert.equal(e.senderId, w.customer.id);
    assert.equal(typeof e.eventId, 'number');
    await quiet(c2, 'message:updated', () => true, 500, m2, 'outside the room');
  });

  test('notification to every device of the user; notification:count on connect and on change', T, async () => {
    const u = w.user('customer');
    await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: 'before' }, w.service);
    const [d1, d2] = await Promise.all([open(u), open(u, { transports: ['polling'] })]);
    const other = await open(w.customer2);
    for (const d of [d1, d2]) assert.equal((await next(d, 'notification:count')).unread, 1, 'count on connect');
    const ms = [d1, d2, other].map(mark);
    const n = await must(201, 'POST', '/notifications', { userId: u.id, type: 'alert', title: 'Hi', message: 'there', data: { k: 1 } }, w.admin);
    for (const [d, mm] of [[d1, ms[0]], [d2, ms[1]]]) {
      const e = await next(d, 'notification', (x) => x.id === n.id, { since: mm });
      hasKeys(e, ['id', 'type', 'title', 'message', 'data', 'createdAt'], 'notification');
      assert.equal(e.type, 'alert');
      assert.equal(e.title, 'Hi');
      assert.equal(e.message, 'there');
      assert.deepEqual(e.data, { k: 1 });
      assert.equal(typeof e.eventId, 'number');
      assert.equal((await next(d, 'notification:count', () => true, { since: mm })).unread, 2, 'count on change');
    }
    assert.equal(seen(other, 'notification', () => true, ms[2]).length, 0, 'not to another user');
    // a read through the API is a change too
    await must(200, 'POST', `/notifications/${n.id}/read`, undefined, u);
    // (POST .../read may answer 200 or 204: must() checked 200)
    assert.equal((await next(d1, 'notification:count', (x) => x.unread === 1, { since: ms[0] })).unread, 1);
  });

  test('eventId: present on stored-change events, unique, increasing', T, async () => {
    const [ag, c] = await Promise.all([open(w.agent), open(w.customer)]);
    const m = mark(ag);
    const t = await mkTicket(w.customer);
    assertOkAck(await ack(ag, 'ticket:join', t.id));
    const ids = [];
    const take = async (ev, pred) => { const e = await next(ag, ev, pred, { since: m }); ids.push([ev, e.eventId]); };
    await take('ticket:created', (x) => x.id === t.id);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending' }, w.admin);
    await take('ticket:updated', (x) => x.id === t.id && x.status === 'pending');
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: w.agent.id }, w.admin);
    await take('ticket:assigned', (x) => x.ticketId === t.id);
    const r = await ack(c, 'message:send', { ticketId: t.id, content: 'from the broker' });
    assertOkAck(r);
    await take('message:new', (x) => x.id === r.message.id);
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'from the API' }, w.customer);
    await take('message:new', (x) => x.id === p.id);
    await must(200, 'PATCH', `/messages/${p.id}`, { content: 'edited' }, w.customer);
    await take('message:updated', (x) => x.id === p.id);
    const n = await must(201, 'POST', '/notifications', { userId: w.agent.id, type: 't', title: 't' }, w.admin);
    await take('notification', (x) => x.id === n.id);
    for (const [ev, id] of ids) assert.ok(Number.isInteger(id) && id > 0, `${ev} eventId ${id}`);
    const seq = ids.map((x) => x[1]);
    assert.equal(new Set(seq).size, seq.length, `unique: ${JSON.stringify(ids)}`);
    for (let i = 1; i < seq.length; i++) assert.ok(seq[i] > seq[i - 1], `increasing: ${JSON.stringify(ids)}`);
  });

  test('automatic rooms: a customer never receives another customer\'s ticket events; user/org/role/agents rooms', T, async () => {
    const [c2, ag, c1, ad, foreign] = await Promise.all([w.customer2, w.agent, w.customer, w.admin, o.customer].map((u) => open(u)));
    const ms = [c2, ag, c1, ad, foreign].map(mark);
    const t = await mkTicket(w.customer);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending', assigneeId: w.agent.id }, w.admin);
    const p = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'private' }, w.customer);
    await must(200, 'PATCH', `/messages/${p.id}`, { content: 'private!' }, w.customer);
    await next(ag, 'ticket:assigned', (x) => x.ticketId === t.id, { since: ms[1] });
    await sleep(800);
    const leaked = c2.log.slice(ms[0]).filter((e) => /^(ticket|message):/.test(e.event));
    assert.deepEqual(leaked.map((e) => e.event), [], 'customer2 receives none of customer1\'s ticket events');
    // server-side emits into the automatic rooms (POST /emit)
    const tag = randomUUID();
    const emit = (rooms, ev) => must(202, 'POST', '/emit', { rooms, event: ev, data: { tag } }, w.admin);
    const ms2 = [c2, ag, c1, ad, foreign].map(mark);
    await emit([`user:${w.customer.id}`], 'to-user');
    await emit([`role:${w.org}:agent`], 'to-role');
    await emit([`agents:${w.org}`], 'to-agents');
    await emit([`org:${w.org}`], 'to-org');
    await next(c1, 'to-user', (x) => x.tag === tag, { since: ms2[2] });
    await next(ag, 'to-role', (x) => x.tag === tag, { since: ms2[1] });
    await next(ag, 'to-agents', (x) => x.tag === tag, { since: ms2[1] });
    await next(ad, 'to-agents', (x) => x.tag === tag, { since: ms2[3] });
    for (const [s, mm] of [[c2, ms2[0]], [ag, ms2[1]], [c1, ms2[2]], [ad, ms2[3]]]) await next(s, 'to-org', (x) => x.tag === tag, { since: mm });
    await sleep(500);
    assert.equal(seen(c2, 'to-user', () => true, ms2[0]).length, 0);
    assert.equal(seen(ad, 'to-role', () => true, ms2[3]).length, 0, 'role:<org>:agent is not the admins');
    assert.equal(seen(c1, 'to-agents', () => true, ms2[2]).length + seen(c2, 'to-agents', () => true, ms2[0]).length, 0, 'agents:<org> is staff only');
    assert.equal(foreign.log.slice(ms2[4]).filter((e) => e.event.startsWith('to-')).length, 0, 'nothing reaches another org');
    assert.equal(foreign.log.slice(ms[4]).filter((e) => /^(ticket|message):/.test(e.event)).length, 0);
  });

  test('team:<team> room for a token with a team claim', T, async () => {
    const { mkTeam } = await import('./lib/pd.mjs');
    const team = mkTeam(w.org);
    const member = w.user('agent', { team });
    const [sm, sx] = await Promise.all([open(member), open(w.agent2)]);
    const ms = [sm, sx].map(mark);
    await must(202, 'POST', '/emit', { rooms: [`team:${team}`], event: 'to-team', data: 1 }, w.service);
    await next(sm, 'to-team', () => true, { since: ms[0] });
    await quiet(sx, 'to-team', () => true, 500, ms[1], 'outside the team');
  });
});

void WAIT;
