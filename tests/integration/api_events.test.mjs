// Every API write publishes exactly the events of contract 3.1 to exactly
// their rooms, in the @socket.io/redis-emitter wire format, with a unique
// increasing eventId; failed writes publish nothing; a Node socket.io server
// with @socket.io/redis-adapter delivers an API change to its client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, conf, mkTeam, mkWorld, requireNode, sleep, sql, subscriber } from './api_lib.mjs';

const w = mkWorld();
const other = mkWorld();
const KEY = conf('adapter_key', 'socket.io') || 'socket.io';
let sub;

before(async () => {
  sub = await subscriber();
});
after(async () => {
  await sub.close();
});

const mentions = (m, id) => m.rooms.some((r) => r.includes(id));

// The newest outbox id: events of writes made before now have eventIds up
// to it.
const outboxMark = () => Number(sql('SELECT COALESCE(max(id), 0) FROM outbox;')[0][0]);

// The events published while fn runs that name a room containing id
// (waits for `expect` of them, then a little longer to catch extras).
// (id: a string, or several in an array). An event of an earlier write
// (eventId up to the mark taken before fn) is not fn's, even if the
// subscriber reads it only after sub.clear(): nothing orders the redis
// subscriber's socket against the HTTP response's. A duplicate of one of
// fn's events (same eventId twice) is kept, and fails here.
async function during(id, expect, fn) {
  const ids = Array.isArray(id) ? id : [id];
  const mark = outboxMark();
  const mine = (m) => typeof m.payload?.eventId !== 'number' || m.payload.eventId > mark;
  const pred = (m) => ids.some((x) => mentions(m, x)) && mine(m);
  sub.clear();
  const out = await fn();
  await sub.wait(pred, expect, 5000);
  await sleep(300);
  const events = sub.got.filter(pred);
  const eids = events.map((m) => m.payload?.eventId).filter((e) => typeof e === 'number');
  assert.equal(new Set(eids).size, eids.length, `an event published twice: ${JSON.stringify(events.map((e) => [e.event, e.payload?.eventId]))}`);
  return { out, events };
}

function checkWire(m) {
  assert.equal(m.uid, 'emitter');
  assert.equal(m.nsp, '/');
  assert.deepEqual(m.flags, {});
  assert.deepEqual(m.except, []);
  const want = m.rooms.length === 1 ? `${KEY}#/#${m.rooms[0]}#` : `${KEY}#/#`;
  assert.equal(m.channel, want);
  assert.equal(typeof m.payload.eventId, 'number');
}

const keys = (o) => Object.keys(o).sort();
const SUMMARY = ['id', 'subject', 'status', 'priority', 'customerId', 'assigneeId', 'createdAt'];

test('POST /tickets: ticket:created to agents:<org> and user:<customer>, summary fields only', async () => {
  const { out, events } = await during(w.org, 1, () => api('POST', '/tickets', { subject: 'New one', priority: 'urgent' }, w.customer.tok));
  assert.equal(out.status, 201);
  assert.equal(events.length, 1, JSON.stringify(events.map((e) => e.event)));
  const [m] = events;
  checkWire(m);
  assert.equal(m.event, 'ticket:created');
  assert.deepEqual(m.rooms, [`agents:${w.org}`, `user:${w.customer.id}`]);
  assert.deepEqual(keys(m.payload), [...SUMMARY, 'eventId'].sort());
  for (const k of SUMMARY) assert.deepEqual(m.payload[k], out.json[k], k);
});

test('PATCH /tickets: ticket:updated (3 rooms) and, on a new assignee, ticket:assigned', async () => {
  const t = (await api('POST', '/tickets', { subject: 'to patch' }, w.customer.tok)).json;
  let { out, events } = await during(t.id, 2, () => api('PATCH', `/tickets/${t.id}`, { status: 'pending', assigneeId: w.agent.id }, w.admin.tok));
  assert.equal(out.status, 200);
  assert.deepEqual(events.map((e) => e.event), ['ticket:updated', 'ticket:assigned']);
  events.forEach(checkWire);
  const [u, a] = events;
  assert.deepEqual(u.rooms, [`ticket:${t.id}`, `agents:${w.org}`, `user:${w.customer.id}`]);
  assert.deepEqual(keys(u.payload), [...SUMMARY, 'updatedAt', 'updatedBy', 'eventId'].sort());
  assert.equal(u.payload.status, 'pending');
  assert.equal(u.payload.assigneeId, w.agent.id);
  assert.equal(u.payload.updatedBy, w.admin.id);
  assert.deepEqual(a.rooms, [`user:${w.agent.id}`, `ticket:${t.id}`]);
  assert.deepEqual(a.payload, { ticketId: t.id, assigneeId: w.agent.id, assignedBy: w.admin.id, eventId: a.payload.eventId });
  assert.ok(a.payload.eventId > u.payload.eventId);

  // same assignee again, or a change without assignee: ticket:updated only
  ({ events } = await during(t.id, 1, () => api('PATCH', `/tickets/${t.id}`, { assigneeId: w.agent.id, priority: 'low' }, w.agent.tok)));
  assert.deepEqual(events.map((e) => e.event), ['ticket:updated']);
  ({ events } = await during(t.id, 1, () => api('PATCH', `/tickets/${t.id}`, { assigneeId: null }, w.agent.tok)));
  assert.deepEqual(events.map((e) => e.event), ['ticket:updated']);
  assert.equal(events[0].payload.assigneeId, null);
});

test('messages: message:new / message:updated to ticket:<id>; notifications to the other participants', async () => {
  const t = (await api('POST', '/tickets', { subject: 'chat' }, w.customer.tok)).json;
  await api('PATCH', `/tickets/${t.id}`, { assigneeId: w.agent2.id }, w.admin.tok);
  // an agent who is not the assignee writes: customer and assignee are notified
  let { out, events } = await during([t.id, w.customer.id, w.agent2.id], 7, () => api('POST', `/tickets/${t.id}/messages`, { content: 'hi there' }, w.agent.tok));
  assert.equal(out.status, 201);
  events.forEach(checkWire);
  const mn = events.filter((e) => e.event === 'message:new');
  assert.equal(mn.length, 1);
  assert.deepEqual(mn[0].rooms, [`ticket:${t.id}`]);
  assert.equal(mn[0].channel, `${KEY}#/#ticket:${t.id}#`);
  assert.deepEqual(keys(mn[0].payload), ['content', 'createdAt', 'eventId', 'id', 'senderId', 'senderName', 'senderRole', 'ticketId']);
  assert.equal(mn[0].payload.senderName, w.agent.name);
  assert.equal(mn[0].payload.senderRole, 'agent');
  const notes = events.filter((e) => e.event === 'notification');
  assert.deepEqual(notes.map((e) => e.rooms[0]).sort(), [`user:${w.customer.id}`, `user:${w.agent2.id}`].sort());
  for (const n of notes) {
    assert.deepEqual(keys(n.payload), ['createdAt', 'data', 'eventId', 'id', 'message', 'title', 'type']);
    assert.deepEqual(n.payload.data, { ticketId: t.id, messageId: out.json.id });
  }
  assert.equal(events.filter((e) => e.event === 'notification:count').length, 2);
  // the org's staff feed of the same message (contract 7.4, the workspace dialect's)
  const feed = events.filter((e) => e.event === 'message:feed');
  assert.equal(feed.length, 1);
  assert.deepEqual(feed[0].rooms, [`ticket:${t.id}`, `agents:${w.org}`]);
  assert.equal(feed[0].payload.id, mn[0].payload.id);
  // and the participants' copy: the room and the user rooms of the others (7.3)
  const part = events.filter((e) => e.event === 'message:participants');
  assert.equal(part.length, 1);
  assert.deepEqual(part[0].rooms, [`ticket:${t.id}`, `user:${w.customer.id}`, `user:${w.agent2.id}`]);
  assert.equal(events.length, 7);

  ({ out, events } = await during(t.id, 1, () => api('PATCH', `/messages/${out.json.id}`, { content: 'hi (edited)' }, w.agent.tok)));
  assert.equal(out.status, 200);
  assert.deepEqual(events.map((e) => e.event), ['message:updated']);
  assert.equal(events[0].payload.content, 'hi (edited)');
  assert.deepEqual(events[0].rooms, [`ticket:${t.id}`]);
});

test('notifications: notification + notification:count to user:<id>; read and read-all push the count', async () => {
  let { out, events } = await during(w.agent.id, 2, () => api('POST', '/notifications', { userId: w.agent.id, type: 't', title: 'Hi' }, w.service.tok));
  assert.equal(out.status, 201);
  assert.deepEqual(events.map((e) => e.event), ['notification', 'notification:count']);
  for (const e of events) assert.deepEqual(e.rooms, [`user:${w.agent.id}`]);
  assert.equal(events[0].payload.id, out.json.id);
  const unread = events[1].payload.unread;
  assert.ok(unread >= 1);
  ({ events } = await during(w.agent.id, 1, () => api('POST', `/notifications/${out.json.id}/read`, undefined, w.agent.tok)));
  assert.deepEqual(events.map((e) => [e.event, e.payload.unread]), [['notification:count', unread - 1]]);
  ({ events } = await during(w.agent.id, 1, () => api('POST', '/notifications/read-all', undefined, w.agent.tok)));
  assert.deepEqual(events.map((e) => [e.event, e.payload.unread]), [['notification:count', 0]]);
});

test('POST /emit: as given, to the org by default, in its namespace, with except', async () => {
  const team = mkTeam(w.org);
  let { out, events } = await during(w.org, 1, () => api('POST', '/emit', { event: 'announce', data: { text: 'hi', n: [1, 2.5] } }, w.admin.tok));
  assert.equal(out.status, 202);
  assert.equal(events.length, 1);
  assert.equal(events[0].event, 'announce');
  assert.deepEqual(events[0].rooms, [`org:${w.org}`]);
  assert.deepEqual(events[0].payload, { text: 'hi', n: [1, 2.5] });
  assert.equal(events[0].channel, `${KEY}#/#org:${w.org}#`);
  ({ out, events } = await during(team, 1, () =>
    api('POST', '/emit', { namespace: '/dashboard', rooms: [`team:${team}`, `role:${w.org}:agent`], except: [`user:${w.agent.id}`], event: 'x', data: 'str' }, w.service.tok)));
  assert.equal(out.status, 202, out.text);
  assert.equal(events.length, 1);
  assert.equal(events[0].nsp, '/dashboard');
  assert.equal(events[0].channel, `${KEY}#/dashboard#`);
  assert.deepEqual(events[0].rooms, [`team:${team}`, `role:${w.org}:agent`]);
  assert.deepEqual(events[0].except, [`user:${w.agent.id}`]);
  assert.equal(events[0].payload, 'str');
});

test('refused writes publish nothing; events never name another org', async () => {
  const t = (await api('POST', '/tickets', { subject: 'guarded' }, w.customer.tok)).json;
  const { events } = await during(t.id, 1, async () => {
    const rs = [
      await api('PATCH', `/tickets/${t.id}`, { status: 'closed' }, w.customer.tok),
      await api('PATCH', `/tickets/${t.id}`, { status: 'closed' }, other.admin.tok),
      await api('PATCH', `/tickets/${t.id}`, { status: 'nope' }, w.admin.tok),
      await api('POST', `/tickets/${t.id}/messages`, { content: 'x' }, other.customer.tok),
      await api('POST', `/tickets/${t.id}/messages`, { content: 'x' }, w.customer2.tok),
      await api('POST', '/emit', { event: 'x', rooms: [`ticket:${t.id}`] }, other.admin.tok),
      await api('POST', '/emit', { event: 'x', rooms: [`ticket:${t.id}`] }, w.agent.tok),
    ];
    for (const r of rs) assert.ok(r.status >= 400 && r.status < 500, r.text);
  }).catch((e) => e);
  assert.equal(events?.length ?? 0, 0);
  sub.clear();
  await api('POST', '/tickets', { subject: 'other org' }, other.customer.tok);
  const got = await sub.wait((m) => mentions(m, other.org), 1);
  assert.equal(got.length, 1);
  assert.ok(got.every((m) => !m.rooms.some((r) => r.includes(w.org))));
});

test('eventIds are unique and increasing across writes', async () => {
  sub.clear();
  for (let i = 0; i < 5; i++) await api('POST', '/tickets', { subject: `seq ${i}` }, w.customer2.tok);
  const got = await sub.wait((m) => mentions(m, w.customer2.id), 5);
  const ids = got.map((m) => m.payload.eventId);
  assert.equal(new Set(ids).size, 5);
  assert.deepEqual([...ids].sort((a, b) => a - b), ids);
});

test('a Node socket.io server with @socket.io/redis-adapter delivers an API change to its client', async () => {
  const { Server } = requireNode('socket.io');
  const { createAdapter } = requireNode('@socket.io/redis-adapter');
  const { createClient } = requireNode('redis');
  const { io: connect } = requireNode('socket.io-client');
  const pub = createClient({ url: process.env.PD_REDIS_URL });
  const subc = pub.duplicate();
  pub.on('error', () => {});
  subc.on('error', () => {});
  await Promise.all([pub.connect(), subc.connect()]);
  const srv = http.createServer();
  const io = new Server(srv, { adapter: createAdapter(pub, subc, { key: KEY }) });
  const t = (await api('POST', '/tickets', { subject: 'live' }, w.customer.tok)).json;
  io.on('connection', (s) => {
    s.join(`ticket:${t.id}`);
    s.join(`user:${w.customer.id}`);
    s.emit('ready');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const client = connect(`http://127.0.0.1:${srv.address().port}`, { transports: ['websocket'] });
  try {
    await new Promise((res, rej) => {
      client.once('ready', res);
      client.once('connect_error', rej);
    });
    const got = new Promise((res) => client.on('message:new', res));
    const upd = new Promise((res) => client.on('ticket:updated', res));
    const note = new Promise((res) => client.on('notification', res));
    await api('PATCH', `/tickets/${t.id}`, { assigneeId: w.agent.id }, w.admin.tok);
    const posted = (await api('POST', `/tickets/${t.id}/messages`, { content: 'over the adapter' }, w.agent.tok)).json;
    const timeout = (p, what) => Promise.race([p, sleep(5000).then(() => { throw new Error(`no ${what}`); })]);
    const m = await timeout(got, 'message:new');
    assert.equal(m.id, posted.id);
    assert.equal(m.content, 'over the adapter');
    assert.equal(typeof m.eventId, 'number');
    assert.equal((await timeout(upd, 'ticket:updated')).assigneeId, w.agent.id);
    assert.equal((await timeout(note, 'notification')).data.messageId, posted.id);
  } finally {
    client.close();
    io.close();
    await Promise.allSettled([pub.quit(), subc.quit()]);
  }
});
