// Seed 002 (the generic real-time module) connects unchanged: contract 7.2,
// dialect `rooms`. Its client code, as the seed writes it:
//
//   const newSocket = io(SOCKET_URL, { transports: ['websocket', 'polling'], withCredentials: true });
//   newSocket.on('connect', () => newSocket.emit('auth', { userId }));
//   socket.emit('join', room); socket.emit('leave', room);
//   socket.emit('message', { room: roomId, text });
//   socket.emit('typing:start', roomId);
//   listeners: auth:success, joined, left, user:joined, user:left, message,
//   presence:update, notification, typing:start, typing:stop
//
// The seed's client carries no token: the browser sends the login cookie
// (contract 2), which Node's client gets as the Cookie header a browser adds.
// The stack's broker speaks the helpdesk by default, so these connections
// name the dialect in the query (?dialect=rooms); seed_dialect_config covers
// a deployment whose `dialect` key is `rooms`. Server side: notify = POST
// /notifications, sendToRoom/broadcast = POST /emit, isUserOnline /
// getOnlineUsers = GET /presence. One broker through nginx, then two brokers.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { world, must, mkTicket, messagesOf, env } from './lib/rt.mjs';
import {
  W, TT, ISO, seedSocket, connected, refused, got, errorOf, errorsSince, exactly, closeSeeds,
  mark, seen, sleep, loginCookie, twoBrokers, foreignToken,
} from './lib/seeds.mjs';
import { quiet } from './lib/rt.mjs';

const w = world();
const o = world(); // another org
const SOCKET_PATH = '/socket.io'; // the seed's SOCKET_PATH default
afterEach(() => closeSeeds());

// The seed's useSocket(userId): io(SOCKET_URL, {...}) then `auth {userId}` on connect.
async function useSocket(user, { url = env.http, transports = ['websocket', 'polling'], auth = true } = {}) {
  const cookie = user.cookie || (user.cookie = await loginCookie(user));
  const s = seedSocket(url, {
    path: SOCKET_PATH, transports, withCredentials: true,
    query: { dialect: 'rooms' }, extraHeaders: { cookie },
  }, user);
  s.on('connect', () => { if (auth) s.emit('auth', { userId: user.id }); });
  await connected(s, `seed 002 useSocket(${user.role})`);
  if (auth) await got(s, 'auth:success', (x) => x && x.userId === user.id);
  return s;
}

const room = (p = 'project') => `${p}:${randomUUID().slice(0, 8)}`;

async function joinRoom(s, r) {
  const m = mark(s);
  s.emit('join', r);
  const j = await got(s, 'joined', (x) => x && x.room === r, m);
  assert.deepEqual({ room: j.room }, { room: r });
}

describe('seed 002 on one broker (dialect rooms, through nginx)', () => {
  test('connect with the login cookie and withCredentials, auth {userId} -> auth:success; another userId -> FORBIDDEN', TT, async () => {
    const u = w.user('customer');
    const s = await useSocket(u);
    assert.deepEqual(seen(s, 'auth:success').map((x) => x.userId), [u.id], 'one auth:success, for the user');
    let m = mark(s);
    s.emit('auth', { userId: w.customer2.id });
    await errorOf(s, m, 'FORBIDDEN', 'auth as someone else');
    m = mark(s);
    s.emit('auth', { userId: u.id, token: u.token });
    await got(s, 'auth:success', (x) => x.userId === u.id, m);
    m = mark(s);
    s.emit('auth', { userId: u.id, token: 'not.a.jwt' });
    await errorOf(s, m, ['FORBIDDEN', 'AUTH_TOKEN_INVALID', 'BAD_REQUEST'], 'auth with a bad token');
    m = mark(s);
    s.emit('auth', { userId: u.id, token: w.customer2.token });
    await errorOf(s, m, ['FORBIDDEN', 'AUTH_TOKEN_INVALID'], 'auth with another user\'s token');
    // still usable
    await joinRoom(s, room());
    // without the cookie (and no token) the handshake is refused, as on /
    const bare = seedSocket(env.http, { path: SOCKET_PATH, transports: ['websocket', 'polling'], withCredentials: true, query: { dialect: 'rooms' } });
    assert.equal(await refused(bare, 'no cookie'), 'AUTH_TOKEN_MISSING');
    // the polling transport alone works as well (the seed allows it)
    const p = await useSocket(u, { transports: ['polling'] });
    await joinRoom(p, room());
  });

  test('join / leave: joined and left to the socket, user:joined and user:left to the other members, also on disconnect', TT, async () => {
    const [a, b, c] = [w.user('customer'), w.user('agent'), w.user('customer')];
    const [sa, sb, sc] = await Promise.all([useSocket(a), useSocket(b), useSocket(c)]);
    const r = room();
    await joinRoom(sa, r);
    const mb = mark(sb); const ma = mark(sa);
    await joinRoom(sb, r);
    const uj = await got(sa, 'user:joined', (x) => x.userId === b.id, ma);
    assert.deepEqual({ ...uj }, { userId: b.id, room: r });
    await quiet(sb, 'user:joined', (x) => x.userId === b.id, 500, mb, 'to the joiner itself');
    await quiet(sc, 'user:joined', () => true, 0, 0, 'to a socket not in the room');
    // leave
    const ma2 = mark(sa); const mb2 = mark(sb);
    sb.emit('leave', r);
    const l = await got(sb, 'left', (x) => x.room === r, mb2);
    assert.deepEqual({ ...l }, { room: r });
    const ul = await got(sa, 'user:left', (x) => x.userId === b.id, ma2);
    assert.deepEqual({ ...ul }, { userId: b.id, room: r });
    // a departed member gets no more of the room
    sa.emit('message', { room: r, text: 'after b left' });
    await got(sa, 'message', (x) => x.text === 'after b left', ma2);
    await quiet(sb, 'message', () => true, 800, mb2, 'after leave');
    // disconnect: user:left to the others
    await joinRoom(sc, r);
    const ma3 = mark(sa);
    sc.disconnect();
    const gone = await got(sa, 'user:left', (x) => x.userId === c.id, ma3);
    assert.equal(gone.room, r);
    assert.equal(seen(sa, 'user:left', (x) => x.userId === c.id, ma3).length, 1, 'once');
  });

  test('message {room, text}: every member, the sender included, gets each message once, in order; not stored; not a member: FORBIDDEN', TT, async () => {
    const [a, b] = [w.user('customer'), w.user('agent')];
    const [sa, sb, outsider, foreign] = await Promise.all([useSocket(a), useSocket(b), useSocket(w.user('agent')), useSocket(o.user('agent'))]);
    const r = room();
    for (const s of [sa, sb, foreign]) await joinRoom(s, r); // the other org uses the same name
    const ms = [sa, sb, outsider, foreign].map(mark);
    const texts = [];
    for (let i = 0; i < 4; i++) {
      const text = `a says ${i} ${randomUUID()}`;
      texts.push(text);
      sa.emit('message', { room: r, text });
      const text2 = `b says ${i}`;
      texts.push(text2);
      sb.emit('message', { room: r, text: text2 });
      await sleep(100);
    }
    for (const [i, s] of [[0, sa], [1, sb]]) {
      const got6 = await exactly(s, 'message', texts.length, (x) => x.room === r, ms[i], `member ${i}`);
      for (const x of got6) {
        assert.equal(typeof x.id, 'string');
        assert.ok(x.id.length > 0);
        assert.match(x.createdAt, ISO, 'createdAt ISO 8601');
        assert.ok([a.id, b.id].includes(x.userId));
        assert.equal(x.userName, x.userId === a.id ? a.name : b.name);
      }
      // each sender's own messages in the order sent
      assert.deepEqual(got6.filter((x) => x.userId === a.id).map((x) => x.text), texts.filter((_, k) => k % 2 === 0));
      assert.deepEqual(got6.filter((x) => x.userId === b.id).map((x) => x.text), texts.filter((_, k) => k % 2 === 1));
      assert.equal(new Set(got6.map((x) => x.id)).size, got6.length, 'distinct ids');
    }
    assert.equal(seen(outsider, 'message', () => true, ms[2]).length, 0, 'a socket not in the room');
    assert.equal(seen(foreign, 'message', () => true, ms[3]).length, 0, 'the same room name in another org');
    // not a member: FORBIDDEN, and nothing relayed
    const mo = mark(outsider);
    outsider.emit('message', { room: r, text: 'let me in' });
    await errorOf(outsider, mo, 'FORBIDDEN', 'message to a room the socket is not in');
    await quiet(sa, 'message', (x) => x.text === 'let me in', 500, 0);
    // not stored: no ticket of the org got a message
    const tickets = await must(200, 'GET', '/tickets?limit=100', undefined, w.admin);
    for (const t of tickets.data) {
      const msgs = await messagesOf(t.id, w.admin);
      assert.ok(!msgs.some((x) => texts.includes(x.content)), 'room messages are not stored');
    }
  });

  test('typing:start ROOM / typing:stop ROOM: to the others, not to the sender\'s sockets; typing:stop follows 5 s after the last start', TT, async (tc) => {
    const [a, b] = [w.user('customer'), w.user('agent')];
    const [sa, sa2, sb] = await Promise.all([useSocket(a), useSocket(a), useSocket(b)]);
    const r = room('chat');
    for (const s of [sa, sa2, sb]) await joinRoom(s, r);
    const ms = [sa, sa2, sb].map(mark);
    sa.emit('typing:start', r);
    const st = await got(sb, 'typing:start', (x) => x.userId === a.id, ms[2]);
    assert.deepEqual({ ...st }, { userId: a.id, room: r });
    sa.emit('typing:stop', r);
    const sp = await got(sb, 'typing:stop', (x) => x.userId === a.id, ms[2]);
    assert.deepEqual({ ...sp }, { userId: a.id, room: r });
    await sleep(500);
    assert.equal(seen(sa, 'typing:start', () => true, ms[0]).length, 0, 'not to the typist');
    assert.equal(seen(sa2, 'typing:start', () => true, ms[1]).length, 0, 'not to the typist\'s other socket');
    // the automatic typing:stop
    const m = mark(sb);
    sa.emit('typing:start', r);
    await got(sb, 'typing:start', (x) => x.userId === a.id, m);
    await sleep(1500);
    const last = Date.now();
    sa.emit('typing:start', r);
    const deadline = Date.now() + 12_000;
    let e;
    while (!(e = sb.log.slice(m).find((x) => x.event === 'typing:stop' && x.args[0].userId === a.id)) && Date.now() < deadline) await sleep(20);
    assert.ok(e, 'an automatic typing:stop');
    tc.diagnostic(`automatic typing:stop ${e.t - last} ms after the last typing:start`);
    assert.ok(e.t - last >= 4500 && e.t - last <= 8000, `typing:stop ${e.t - last} ms after the last start (about 5000)`);
    assert.deepEqual({ ...e.args[0] }, { userId: a.id, room: r });
  });

  test('presence STATUS: presence:update {userId, status} to the org; a bad status is BAD_REQUEST; the 6th in 60 s is RATE_LIMITED (counts as presence:status)', TT, async () => {
    const u = w.user('agent');
    const [s, peer, foreign] = await Promise.all([useSocket(u), useSocket(w.user('customer')), useSocket(o.user('agent'))]);
    const mp = mark(peer); const mf = mark(foreign); const m = mark(s);
    s.emit('presence', 'busy');                                    // 1
    const up = await got(peer, 'presence:update', (x) => x.userId === u.id && x.status === 'busy', mp);
    assert.equal(up.userId, u.id);
    s.emit('presence', 'sleeping');                                // 2
    await errorOf(s, m, 'BAD_REQUEST', 'presence with an unknown status');
    const m35 = mark(peer);
    for (const st of ['away', 'online', 'busy']) s.emit('presence', st); // 3, 4, 5
    // the 5th reached the org (GET /presence below reads what it stored)
    await got(peer, 'presence:update', (x) => x.userId === u.id && x.status === 'busy', m35);
    await sleep(500);
    assert.equal(seen(s, 'error', () => true, m).length, 1, 'only the bad status was an error so far');
    const m6 = mark(s);
    s.emit('presence', 'away');                                    // 6
    const e = await errorOf(s, m6, 'RATE_LIMITED', 'the 6th presence in 60 s');
    assert.ok(typeof e.retryAfter === 'number' && e.retryAfter > 0 && e.retryAfter <= 60, `retryAfter ${e.retryAfter}`);
    assert.equal(seen(foreign, 'presence:update', (x) => x.userId === u.id, mf).length, 0, 'not to another org');
    const r = await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent);
    assert.equal(r.data[0].status, 'busy', 'the 6th (dropped) did not change the status');
  });

  test('typing:start through the dialect shares the typing:start budget: 10 pass, the 11th is RATE_LIMITED', TT, async () => {
    const [a, b] = [w.user('customer'), w.user('agent')];
    const [sa, sb] = await Promise.all([useSocket(a), useSocket(b)]);
    const r = room();
    for (const s of [sa, sb]) await joinRoom(s, r);
    const m = mark(sa); const mb = mark(sb);
    for (let i = 0; i < 10; i++) sa.emit('typing:start', r);
    await got(sb, 'typing:start', (x) => x.userId === a.id, mb);
    await sleep(1000);
    const relayed = seen(sb, 'typing:start', (x) => x.userId === a.id, mb).length;
    assert.ok(relayed >= 1 && relayed <= 10, `${relayed} of 10 relayed (a relay may coalesce repeats, never add)`);
    assert.deepEqual(seen(sa, 'error', () => true, m), [], 'the first 10 pass');
    const mb11 = mark(sb);
    sa.emit('typing:start', r);
    const e = await errorOf(sa, m, 'RATE_LIMITED', 'the 11th typing:start');
    assert.ok(e.retryAfter > 0 && e.retryAfter <= 10, `retryAfter ${e.retryAfter}`);
    await quiet(sb, 'typing:start', () => true, 800, mb11, 'for the dropped typing:start');
    // the limited socket still works for other events
    await joinRoom(sa, room());
  });

  test('server side: notify, sendToRoom, broadcast (POST /notifications, POST /emit) and isUserOnline / getOnlineUsers (GET /presence)', TT, async () => {
    const o2 = world();
    const [a, b, c] = [o2.user('customer'), o2.user('agent'), o2.user('customer')];
    const [sa, sb, sc, foreign] = await Promise.all([useSocket(a), useSocket(b), useSocket(c), useSocket(o.user('customer'))]);
    const r = 'project:123'; // the seed's own example, in two orgs
    for (const s of [sa, sb, foreign]) await joinRoom(s, r);
    const ms = [sa, sb, sc, foreign].map(mark);
    // notify('user_123', {...})
    const n = await must(201, 'POST', '/notifications', { userId: a.id, type: 'message', title: 'New Message', message: 'You have a new message from John', data: { messageId: 'msg_456' } }, o2.service);
    const got1 = await got(sa, 'notification', (x) => x.id === n.id, ms[0]);
    assert.equal(got1.title, 'New Message');
    assert.deepEqual(got1.data, { messageId: 'msg_456' });
    // sendToRoom('project:123', 'update', {...})
    const tag = randomUUID();
    await must(202, 'POST', '/emit', { rooms: [r], event: 'update', data: { type: 'task_completed', taskId: 'task_789', tag } }, o2.admin);
    for (const [i, s] of [[0, sa], [1, sb]]) {
      const x = await exactly(s, 'update', 1, (y) => y.tag === tag, ms[i], `sendToRoom member ${i}`);
      assert.deepEqual(x[0], { type: 'task_completed', taskId: 'task_789', tag });
    }
    assert.equal(seen(sc, 'update', () => true, ms[2]).length, 0, 'not to an org member outside the room');
    assert.equal(seen(foreign, 'update', () => true, ms[3]).length, 0, 'not to the same room name in another org');
    // broadcast('announcement', {...}): the whole org, nobody else
    const tag2 = randomUUID();
    await must(202, 'POST', '/emit', { event: 'announcement', data: { message: 'System maintenance in 1 hour', tag: tag2 } }, o2.admin);
    for (const [i, s] of [[0, sa], [1, sb], [2, sc]]) await exactly(s, 'announcement', 1, (y) => y.tag === tag2, ms[i], `broadcast ${i}`);
    assert.equal(seen(foreign, 'announcement', () => true, ms[3]).length, 0, 'broadcast stays in the org');
    // isUserOnline('user_123') / getOnlineUsers()
    const off = o2.user('agent');
    const one = await must(200, 'GET', `/presence?userIds=${a.id},${off.id}`, undefined, o2.agent);
    const st = Object.fromEntries(one.data.map((x) => [x.userId, x.status]));
    assert.equal(st[a.id], 'online');
    assert.equal(st[off.id], 'offline');
    const all = await must(200, 'GET', '/presence', undefined, o2.agent);
    assert.ok(Array.isArray(all.data), `GET /presence without ids is a list: ${JSON.stringify(all).slice(0, 300)}`);
    const ids = all.data.map((x) => x.userId);
    for (const u of [a, b, c]) assert.ok(ids.includes(u.id), `getOnlineUsers lists ${u.role} ${u.id}`);
    assert.ok(!ids.includes(off.id), 'not a user with no connection');
    for (const x of all.data) if (x.lastSeen) assert.match(x.lastSeen, ISO, 'lastSeen ISO 8601');
  });

  test('join: ticket:<id> access-checked; reserved and foreign rooms FORBIDDEN; bad input answered with the error event; the connection stays usable', TT, async () => {
    const c = w.user('customer');
    const own = await mkTicket(c);
    const notMine = await mkTicket(w.customer2);
    const foreignT = await mkTicket(o.customer);
    const s = await useSocket(c);
    // a permitted ticket room: the ticket's events reach the socket
    await joinRoom(s, `ticket:${own.id}`);
    let m = mark(s);
    const posted = await must(201, 'POST', `/tickets/${own.id}/messages`, { content: 'to the ticket room' }, w.agent);
    await got(s, 'message:new', (x) => x.id === posted.id, m);
    // FORBIDDEN: tickets the user may not see, every reserved prefix, another org's rooms
    const forbidden = [
      `ticket:${notMine.id}`, `ticket:${foreignT.id}`, `user:${w.customer2.id}`, `org:${o.org}`, `org:${w.org}`,
      `agents:${w.org}`, `role:${w.org}:agent`, 'role:agent', `team:${randomUUID()}`, `presence:${w.agent.id}`,
      `ws:${w.org}`, `ws:${o.org}`, `conv:${foreignT.id}`, `conv:${notMine.id}`,
    ];
    for (const r of forbidden) {
      m = mark(s);
      s.emit('join', r);
      await errorOf(s, m, 'FORBIDDEN', `join ${r}`);
      assert.equal(seen(s, 'joined', (x) => x && x.room === r, m).length, 0, `no joined for ${r}`);
    }
    // malformed: wrong types, empty, oversized, control characters
    const bad = [
      ['join', 42], ['join', { room: 'x' }], ['join', ''], ['join', null], ['join', 'x'.repeat(201)],
      ['join', 'y'.repeat(10_000)], ['join', 'a\u0001b'], ['leave', 42], ['leave', ['x']],
      ['message', 'just a string'], ['message', { room: 42, text: 'x' }], ['message', { room: 'project:1' }],
      ['message', { room: 'project:1', text: 42 }], ['typing:start', 42], ['typing:stop', { room: 'x' }],
      ['presence', 42], ['presence', ''], ['auth', 'not an object'], ['auth', { userId: 42 }],
    ];
    const mb = mark(s);
    for (const [ev, payload] of bad) {
      const mm = mark(s);
      s.emit(ev, payload);
      await errorOf(s, mm, ['BAD_REQUEST', 'FORBIDDEN'], `${ev} ${JSON.stringify(payload).slice(0, 40)}`);
    }
    const errs = await errorsSince(s, mb);
    assert.equal(errs.length, bad.length, `one error per bad event: ${errs.length} for ${bad.length}`);
    assert.equal(seen(s, 'joined', () => true, mb).length, 0, 'nothing joined');
    // still usable, and still in its rooms
    assert.equal(s.connected, true);
    await joinRoom(s, room());
    m = mark(s);
    const p2 = await must(201, 'POST', `/tickets/${own.id}/messages`, { content: 'still there' }, w.agent);
    await got(s, 'message:new', (x) => x.id === p2.id, m);
  });

  test('a seed-shaped token (workspaceId, role CLIENT) in auth.token works as the cookie does', TT, async () => {
    const u = w.user('customer');
    const tok = foreignToken(u, { role: 'CLIENT' });
    const s = seedSocket(env.http, { path: SOCKET_PATH, transports: ['websocket', 'polling'], withCredentials: true, query: { dialect: 'rooms' }, auth: { token: tok } }, u);
    s.on('connect', () => s.emit('auth', { userId: u.id }));
    await connected(s, 'foreign token');
    await got(s, 'auth:success', (x) => x.userId === u.id);
    await joinRoom(s, room());
  });
});

describe('seed 002 across two brokers', () => {
  let br;
  before(async () => { br = await twoBrokers(); });
  after(async () => { closeSeeds(); if (br) await br.stop(); });

  test('a free room spans brokers: user:joined, message (counted), typing, user:left, sendToRoom, presence:update', TT, async () => {
    const [a, b] = [w.user('customer'), w.user('agent')];
    const sa = await useSocket(a, { url: br.A.url });
    const sb = await useSocket(b, { url: br.B.url });
    const r = room();
    await joinRoom(sa, r);
    const ma = mark(sa);
    await joinRoom(sb, r);
    assert.deepEqual({ ...(await got(sa, 'user:joined', (x) => x.userId === b.id, ma)) }, { userId: b.id, room: r });
    // messages both ways, each member gets every one once
    const mA = mark(sa); const mB = mark(sb);
    const N = 5;
    for (let i = 0; i < N; i++) { sa.emit('message', { room: r, text: `A${i}` }); sb.emit('message', { room: r, text: `B${i}` }); }
    for (const [s, mm, what] of [[sa, mA, 'on A'], [sb, mB, 'on B']]) {
      const list = await exactly(s, 'message', 2 * N, (x) => x.room === r, mm, `member ${what}`);
      assert.deepEqual(list.filter((x) => x.userId === a.id).map((x) => x.text), [...Array(N).keys()].map((i) => `A${i}`));
      assert.deepEqual(list.filter((x) => x.userId === b.id).map((x) => x.text), [...Array(N).keys()].map((i) => `B${i}`));
    }
    // typing across
    const mt = mark(sb);
    sa.emit('typing:start', r);
    assert.deepEqual({ ...(await got(sb, 'typing:start', (x) => x.userId === a.id, mt)) }, { userId: a.id, room: r });
    sa.emit('typing:stop', r);
    await got(sb, 'typing:stop', (x) => x.userId === a.id, mt);
    // presence across
    const mp = mark(sa);
    sb.emit('presence', 'away');
    await got(sa, 'presence:update', (x) => x.userId === b.id && x.status === 'away', mp);
    // sendToRoom reaches both brokers' members once
    const tag = randomUUID();
    const me = [mark(sa), mark(sb)];
    await must(202, 'POST', '/emit', { rooms: [r], event: 'update', data: { tag } }, w.admin);
    await exactly(sa, 'update', 1, (x) => x.tag === tag, me[0], 'sendToRoom on A');
    await exactly(sb, 'update', 1, (x) => x.tag === tag, me[1], 'sendToRoom on B');
    // leave and disconnect across
    const ml = mark(sa);
    sb.emit('leave', r);
    await got(sa, 'user:left', (x) => x.userId === b.id && x.room === r, ml);
    await joinRoom(sb, r);
    const md = mark(sa);
    sb.disconnect();
    await got(sa, 'user:left', (x) => x.userId === b.id && x.room === r, md);
  });

  test('two orgs with the same room name on different brokers never meet', TT, async () => {
    const [a, f] = [w.user('customer'), o.user('customer')];
    const sa = await useSocket(a, { url: br.A.url });
    const sf = await useSocket(f, { url: br.B.url });
    const r = 'project:123';
    await joinRoom(sa, r);
    const mf = mark(sf); const ma = mark(sa);
    await joinRoom(sf, r);
    sf.emit('message', { room: r, text: 'from the other org' });
    await got(sf, 'message', (x) => x.text === 'from the other org', mf);
    await quiet(sa, 'message', () => true, 1500, ma, 'from another org\'s same-named room');
    assert.equal(seen(sa, 'user:joined', () => true, ma).length, 0, 'no user:joined across orgs');
  });
});

void W;
