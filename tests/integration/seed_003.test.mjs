// Seed 003 (presence and smart delivery) connects unchanged: contract 7.3,
// dialect `presence`. Its client, as the seed describes it:
//
//   socket connects on login (token minted by seed 003's system: role
//   CLIENT / FREELANCER / ADMIN, the org in workspaceId), then
//   emit('heartbeat') every 25 s
//   emit('chat:focus', { partnerId: otherUserId }) / emit('chat:blur')
//   emit('join_conversation', { conversationId }) / emit('leave_conversation', ...)
//   emit('send_message', { conversationId, content })
//   listeners: presence:connected [list], presence:update [list],
//   new_message {message, conversationId}, message:sent {message, conversationId, delivered}
//
// Conversations are tickets; unread messages after a reconnect come from
// GET /messages?unread=1. The stack's broker speaks the helpdesk by default:
// these connections say ?dialect=presence. One broker, then two.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { world, must, mkTicket, messagesOf, quiet, ack } from './lib/rt.mjs';
import {
  W, TT, ISO, openAs, got, errorOf, errorsSince, exactly, closeSeeds, mark, seen, sleep,
  twoBrokers, foreignToken, SEED_ROLE,
} from './lib/seeds.mjs';

const w = world();
const o = world();
afterEach(() => closeSeeds());

const MSG = ['id', 'conversationId', 'content', 'senderId', 'senderName', 'senderRole', 'createdAt'];
const ENTRY = ['userId', 'role', 'lastActive', 'chattingWith'];

// The seed's global socket: a seed-003 token, ?dialect=presence.
function connect(user, opts = {}) {
  return openAs(user, 'presence', { token: foreignToken(user, { role: SEED_ROLE[user.role] }), ...opts });
}

const entryOf = (list, id) => (Array.isArray(list) ? list.find((x) => x && x.userId === id) : undefined);
const lists = (s, event, since) => seen(s, event, () => true, since);

function checkList(list, what) {
  assert.ok(Array.isArray(list), `${what}: a list, got ${JSON.stringify(list).slice(0, 300)}`);
  for (const e of list) for (const k of ENTRY) assert.ok(k in e, `${what}: entry without ${k}: ${JSON.stringify(e)}`);
}

// join_conversation, waiting for its acknowledgement: the join is
// access-checked in the database, so a fixed wait after it was a guess.
async function joinConv(s, conversationId, bare = false) {
  const m = mark(s);
  const r = await ack(s, 'join_conversation', bare ? conversationId : { conversationId });
  const errs = seen(s, 'error', () => true, m);
  assert.deepEqual({ ack: r && r.error ? r : 'ok', errs }, { ack: 'ok', errs: [] }, `join_conversation ${conversationId}`);
}

describe('seed 003 on one broker (dialect presence, through nginx)', () => {
  test('seed-003 tokens (CLIENT, FREELANCER, ADMIN; workspaceId) connect; presence:connected lists the org\'s users online now', TT, async () => {
    const org = world();
    const [c, f, a] = [org.user('customer'), org.user('agent'), org.user('admin')];
    const sc = await connect(c);
    checkList(await got(sc, 'presence:connected'), 'presence:connected');
    const sf = await connect(f);
    const list = await got(sf, 'presence:connected');
    checkList(list, 'presence:connected');
    assert.ok(entryOf(list, c.id), `the customer online before is listed: ${JSON.stringify(list)}`);
    assert.equal(entryOf(list, c.id).chattingWith, null);
    const sa = await connect(a);
    const l3 = await got(sa, 'presence:connected');
    for (const u of [c, f]) assert.ok(entryOf(l3, u.id), `${u.role} listed`);
    // another org's users never appear
    const so = await connect(o.user('agent'));
    const lo = await got(so, 'presence:connected');
    for (const u of [c, f, a]) assert.equal(entryOf(lo, u.id), undefined, 'not in another org\'s list');
    // the helpdesk's pushdeskctl tokens work on the dialect too
    const plain = await openAs(org.user('agent'), 'presence');
    checkList(await got(plain, 'presence:connected'), 'presence:connected (pushdeskctl token)');
    void sc;
  });

  test('presence:update lists: on coming online, on chat:focus / chat:blur (chattingWith), on going offline; only to the org', TT, async () => {
    const org = world();
    const [c, f] = [org.user('customer'), org.user('agent')];
    const obs = await connect(org.user('admin'));
    const foreign = await connect(o.user('admin'));
    const m = mark(obs); const mf = mark(foreign);
    const sf = await connect(f);
    let l = await got(obs, 'presence:update', (x) => !!entryOf(x, f.id), m);
    checkList(l, 'presence:update');
    const sc = await connect(c);
    await got(obs, 'presence:update', (x) => !!entryOf(x, c.id) && !!entryOf(x, f.id), m);
    // chat:focus {partnerId}
    const m2 = mark(obs);
    sf.emit('chat:focus', { partnerId: c.id });
    l = await got(obs, 'presence:update', (x) => entryOf(x, f.id)?.chattingWith === c.id, m2);
    assert.equal(entryOf(l, c.id).chattingWith, null);
    sf.emit('chat:blur');
    await got(obs, 'presence:update', (x) => entryOf(x, f.id) && entryOf(x, f.id).chattingWith === null, m2);
    // offline: the list without the user
    const m3 = mark(obs);
    sc.disconnect();
    await got(obs, 'presence:update', (x) => Array.isArray(x) && !entryOf(x, c.id) && !!entryOf(x, f.id), m3);
    await sleep(1000);
    assert.equal(lists(foreign, 'presence:update', mf).filter((x) => entryOf(x, f.id) || entryOf(x, c.id)).length, 0, 'another org sees none of it');
  });

  test('heartbeat (as presence:ping): no error, the user stays online; 100 per 60 s, the 101st RATE_LIMITED', TT, async () => {
    const u = w.user('agent');
    const s = await connect(u);
    const m = mark(s);
    for (let i = 0; i < 100; i++) s.emit('heartbeat');
    await sleep(1500);
    assert.deepEqual(seen(s, 'error', () => true, m), [], '100 heartbeats pass');
    s.emit('heartbeat');
    await errorOf(s, m, 'RATE_LIMITED', 'the 101st heartbeat');
    const r = await must(200, 'GET', `/presence?userIds=${u.id}`, undefined, w.agent);
    assert.equal(r.data[0].status, 'online');
  });

  test('send_message: message:sent to the sender\'s socket, new_message to the room and every device of the other participants, once each; stored', TT, async () => {
    const c = w.user('customer');
    const f = w.user('agent');
    const t = await mkTicket(c);
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: f.id }, w.admin);
    const [cs, cs2, fs, fs2, other] = await Promise.all([connect(c), connect(c), connect(f), connect(f), connect(w.user('agent'))]);
    await joinConv(cs, t.id);
    await joinConv(fs, t.id, true); // a bare id works too
    const ms = [cs, cs2, fs, fs2, other].map(mark);
    const N = 3;
    const sent = [];
    for (let i = 0; i < N; i++) {
      const content = `hello ${i} ${randomUUID()}`;
      sent.push(content);
      cs.emit('send_message', { conversationId: t.id, content });
      await sleep(250);
    }
    const acks = await exactly(cs, 'message:sent', N, (x) => x.conversationId === t.id, ms[0], 'message:sent to the sender');
    for (const [i, a] of acks.entries()) {
      for (const k of MSG) assert.ok(k in a.message, `message:sent.message.${k}`);
      assert.equal(a.message.content, sent[i]);
      assert.equal(a.message.conversationId, t.id);
      assert.equal(a.message.senderId, c.id);
      assert.match(a.message.createdAt, ISO);
      assert.equal(a.delivered, true, 'the assignee is online');
    }
    assert.equal(seen(cs2, 'message:sent', () => true, ms[1]).length, 0, 'message:sent only to the sending socket');
    // the other participant: every device once (room member and not)
    for (const [i, s] of [[2, fs], [3, fs2]]) {
      const nm = await exactly(s, 'new_message', N, (x) => x.conversationId === t.id, ms[i], `new_message on the agent's device ${i}`);
      assert.deepEqual(nm.map((x) => x.message.content), sent, 'in order');
      for (const x of nm) for (const k of MSG) assert.ok(k in x.message, `new_message.message.${k}`);
    }
    // the sender's own sockets: the room member gets the room's copy (seed
    // 003 emits to the conversation room); nobody gets a message twice
    for (const [i, s] of [[0, cs], [1, cs2]]) {
      assert.ok(seen(s, 'new_message', () => true, ms[i]).length <= N, 'at most once per message');
    }
    assert.equal(seen(other, 'new_message', () => true, ms[4]).length, 0, 'not to a staff member outside the conversation');
    const stored = (await messagesOf(t.id, w.admin)).filter((x) => sent.includes(x.content));
    assert.equal(stored.length, N, 'stored as message:send');
  });

  test('smart delivery: a receiver chatting with the sender has it read at once; otherwise it is unread (GET /messages?unread=1); offline: delivered false', TT, async () => {
    const org = world(); // the agent's unread list holds this test's messages only
    const c = org.user('customer');
    const f = org.user('agent');
    const t = await mkTicket(c);
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: f.id }, org.admin);
    const cs = await connect(c);
    await joinConv(cs, t.id);
    // offline receiver: stored, delivered false, unread
    cs.emit('send_message', { conversationId: t.id, content: 'while you were away' });
    const a0 = await got(cs, 'message:sent', (x) => x.message.content === 'while you were away');
    assert.equal(a0.delivered, false, 'the assignee is offline');
    let unread = await must(200, 'GET', '/messages?unread=1', undefined, f);
    assert.ok(unread.data.some((x) => x.id === a0.message.id), 'unread for the assignee');
    // online, not focused: unread
    const fs = await connect(f);
    const m = mark(fs);
    cs.emit('send_message', { conversationId: t.id, content: 'online, elsewhere' });
    const a1 = await got(cs, 'message:sent', (x) => x.message.content === 'online, elsewhere');
    assert.equal(a1.delivered, true);
    await got(fs, 'new_message', (x) => x.message.id === a1.message.id, m);
    unread = await must(200, 'GET', '/messages?unread=1', undefined, f);
    assert.ok(unread.data.some((x) => x.id === a1.message.id), 'not focused: unread');
    // chatting with the sender: read at once
    // the focus is stored before the org hears of it: wait for that, not
    // for a fixed time
    let mf = mark(cs);
    fs.emit('chat:focus', { partnerId: c.id });
    await got(cs, 'presence:update', (x) => entryOf(x, f.id)?.chattingWith === c.id, mf);
    cs.emit('send_message', { conversationId: t.id, content: 'you are looking' });
    const a2 = await got(cs, 'message:sent', (x) => x.message.content === 'you are looking');
    await got(fs, 'new_message', (x) => x.message.id === a2.message.id, m);
    const ids = async () => (await must(200, 'GET', '/messages?unread=1', undefined, f)).data.map((x) => x.id);
    const deadline = Date.now() + W;
    while ((await ids()).includes(a2.message.id) && Date.now() < deadline) await sleep(200);
    assert.ok(!(await ids()).includes(a2.message.id), 'read at once while chatting with the sender');
    // focused on someone else: unread again
    mf = mark(cs);
    fs.emit('chat:focus', { partnerId: org.customer2.id });
    await got(cs, 'presence:update', (x) => entryOf(x, f.id)?.chattingWith === org.customer2.id, mf);
    cs.emit('send_message', { conversationId: t.id, content: 'you looked away' });
    const a3 = await got(cs, 'message:sent', (x) => x.message.content === 'you looked away');
    await sleep(1000);
    assert.ok((await ids()).includes(a3.message.id), 'chatting with another user: unread');
  });

  test('send_message counts as message:send: the 6th in 1 s is RATE_LIMITED and not stored', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const cs = await connect(c);
    await joinConv(cs, t.id);
    const m = mark(cs);
    for (let i = 0; i < 6; i++) cs.emit('send_message', { conversationId: t.id, content: `burst ${i}` });
    await errorOf(cs, m, 'RATE_LIMITED', 'the 6th send_message in 1 s');
    await exactly(cs, 'message:sent', 5, () => true, m, '5 accepted');
    const stored = (await messagesOf(t.id, c)).filter((x) => x.content.startsWith('burst '));
    assert.equal(stored.length, 5);
  });

  test('bad input: other orgs\' ids, wrong types, foreign conversations; the error event, the connection usable', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const notMine = await mkTicket(w.customer2);
    const foreign = await mkTicket(o.customer);
    const cs = await connect(c);
    const obs = await connect(w.user('admin'));
    const cases = [
      ['chat:focus', { partnerId: o.agent.id }], ['chat:focus', { partnerId: 42 }], ['chat:focus', { partnerId: randomUUID() }],
      ['chat:focus', 'x'], ['join_conversation', { conversationId: foreign.id }], ['join_conversation', foreign.id],
      ['join_conversation', { conversationId: notMine.id }], ['join_conversation', 42], ['join_conversation', { conversationId: 'y'.repeat(10_000) }],
      ['leave_conversation', 42], ['send_message', { conversationId: foreign.id, content: 'x' }],
      ['send_message', { conversationId: notMine.id, content: 'x' }], ['send_message', { conversationId: t.id, content: 42 }],
      ['send_message', { conversationId: t.id }], ['send_message', 'hello'],
    ];
    const m0 = mark(cs); const mo = mark(obs);
    for (const [ev, payload] of cases) {
      const m = mark(cs);
      cs.emit(ev, payload);
      await errorOf(cs, m, ['BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND'], `${ev} ${JSON.stringify(payload).slice(0, 50)}`);
      await sleep(ev === 'send_message' ? 300 : 50); // under send_message's 5 per second
    }
    assert.equal((await errorsSince(cs, m0)).length, cases.length, 'one error per bad event');
    assert.equal(seen(cs, 'message:sent', () => true, m0).length, 0, 'nothing sent');
    assert.ok(!lists(obs, 'presence:update', mo).some((l) => entryOf(l, c.id)?.chattingWith === o.agent.id), 'chattingWith never names another org\'s user');
    for (const x of [foreign, notMine]) assert.ok(!(await messagesOf(x.id, x === foreign ? o.admin : w.admin)).some((y) => y.content === 'x'), 'nothing stored');
    // usable
    await joinConv(cs, t.id);
    await sleep(1200); // a fresh second for message:send's budget
    cs.emit('send_message', { conversationId: t.id, content: 'still fine' });
    await got(cs, 'message:sent', (x) => x.message.content === 'still fine', m0);
  });
});

describe('seed 003 across two brokers', () => {
  let br;
  before(async () => { br = await twoBrokers(); });
  after(async () => { closeSeeds(); if (br) await br.stop(); });

  test('presence lists span brokers: online on B, chattingWith on B, offline once; send_message on A reaches every device on B', TT, async () => {
    const org = world();
    const [c, f] = [org.user('customer'), org.user('agent')];
    const t = await mkTicket(c);
    await must(200, 'PATCH', `/tickets/${t.id}`, { assigneeId: f.id }, org.admin);
    const obs = await connect(org.user('admin'), { url: br.A.url });
    const m = mark(obs);
    const cs = await connect(c, { url: br.A.url });
    const fb = await connect(f, { url: br.B.url });
    const fb2 = await connect(f, { url: br.B.url });
    await got(obs, 'presence:update', (x) => !!entryOf(x, f.id) && !!entryOf(x, c.id), m);
    const l = await got(await connect(org.user('agent'), { url: br.A.url }), 'presence:connected');
    assert.ok(entryOf(l, f.id), 'presence:connected on A lists a user of B');
    fb.emit('chat:focus', { partnerId: c.id });
    await got(obs, 'presence:update', (x) => entryOf(x, f.id)?.chattingWith === c.id, m);
    await joinConv(cs, t.id);
    await joinConv(fb, t.id);
    const mb = [mark(fb), mark(fb2)];
    cs.emit('send_message', { conversationId: t.id, content: 'across' });
    const a = await got(cs, 'message:sent', (x) => x.message.content === 'across');
    assert.equal(a.delivered, true);
    await exactly(fb, 'new_message', 1, (x) => x.message.id === a.message.id, mb[0], 'room member on B');
    await exactly(fb2, 'new_message', 1, (x) => x.message.id === a.message.id, mb[1], 'other device on B');
    // f is chatting with c: read at once
    const deadline = Date.now() + W;
    const unreadIds = async () => (await must(200, 'GET', '/messages?unread=1', undefined, f)).data.map((x) => x.id);
    while ((await unreadIds()).includes(a.message.id) && Date.now() < deadline) await sleep(200);
    assert.ok(!(await unreadIds()).includes(a.message.id), 'read at once across brokers');
    // offline once, when the last device (on B) goes
    const m2 = mark(obs);
    fb.disconnect();
    await sleep(1500);
    assert.ok(!lists(obs, 'presence:update', m2).some((x) => Array.isArray(x) && !entryOf(x, f.id)), 'one device left: still online');
    fb2.disconnect();
    await got(obs, 'presence:update', (x) => Array.isArray(x) && !entryOf(x, f.id), m2);
    await quiet(obs, 'presence:update', (x) => !!entryOf(x, f.id), 1500, mark(obs), 'listing the user again after the offline');
  });
});

void ISO;
