// Bad input on every client event of contract 3.1: wrong types, missing
// fields, huge strings, unknown ids, other orgs' and other customers' ids.
// Each gets the `error` event (no ack asked) or the error ack with the
// contract's code; the connection stays usable (a valid event afterwards
// works) and nothing else is affected (no message stored, nothing relayed).
//
// "Huge" strings are 999 000 characters: the packet stays under the
// contract's maxPayload (1e6 bytes), past which Engine.IO closes the
// connection by design.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  T, world, must, mkTicket, messagesOf, open, close, closeAll, ack, mark, seen, next,
  errorEvent, assertErrAck, assertErrEvent, assertOkAck, sleep,
} from './lib/rt.mjs';

const w = world();
const o = world();
const HUGE = 'x'.repeat(999_000);
const BAD = 'BAD_REQUEST';
const NF = 'NOT_FOUND';
const BAD_OR_NF = [BAD, NF]; // a string that is not a ticket id: malformed or not found
let t, tOther, tForeign, note, noteForeign, observer, obsMark;

before(async () => {
  t = await mkTicket(w.customer);
  tOther = await mkTicket(w.customer2);
  tForeign = await mkTicket(o.customer);
  note = await must(201, 'POST', '/notifications', { userId: w.customer2.id, type: 'x', title: 'not yours' }, w.admin);
  noteForeign = await must(201, 'POST', '/notifications', { userId: o.customer.id, type: 'x', title: 'other org' }, o.admin);
  // an observer in every room the bad events could reach
  observer = await open(w.agent2, { keep: true });
  for (const id of [t.id, tOther.id]) assertOkAck(await ack(observer, 'ticket:join', id));
  obsMark = mark(observer);
});
after(async () => {
  close(observer);
});
afterEach(() => closeAll());

// One case: a fresh socket of `user` sends event(args), expecting codes (or
// 'any' for any contract code, or 'ok-or' + codes). Then a valid event works.
const CODES = ['FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST', 'RATE_LIMITED', 'INTERNAL'];
async function runCase(user, event, args, codes, label) {
  const want = codes === 'any' ? CODES : codes;
  for (const mode of ['ack', 'event']) {
    const s = await open(user);
    const what = `${event} ${label} (${mode})`;
    if (mode === 'ack') {
      assertErrAck(await ack(s, event, ...args), want, what);
    } else {
      const m = mark(s);
      s.emit(event, ...args);
      assertErrEvent(await errorEvent(s, m), want, what);
    }
    // still usable
    assert.equal(s.connected, true, `${what}: still connected`);
    const own = user.id === w.customer.id ? t.id : user.org === o.org ? tForeign.id : t.id;
    assertOkAck(await ack(s, 'ticket:join', own), `${what}: a valid ticket:join afterwards`);
    close(s);
  }
}

const id = () => randomUUID();

describe('bad input: one case per payload, with and without an ack', () => {
  test('ticket:join', T, async () => {
    for (const [args, codes, label] of [
      [[], BAD, 'no payload'], [[null], BAD, 'null'], [[42], BAD, 'a number'], [[true], BAD, 'a boolean'],
      [[{}], BAD, 'an object'], [[[t.id]], BAD, 'an array'], [[''], BAD_OR_NF, 'empty string'],
      [['not-a-uuid'], BAD_OR_NF, 'not a uuid'], [[HUGE], BAD_OR_NF, 'a huge string'],
      [[id()], NF, 'an unknown ticket id'], [[tForeign.id], NF, 'another org\'s ticket'],
    ]) await runCase(w.agent, 'ticket:join', args, codes, label);
    await runCase(w.customer, 'ticket:join', [tOther.id], NF, 'another customer\'s ticket');
  });

  test('ticket:leave', T, async () => {
    for (const [args, codes, label] of [
      [[], BAD, 'no payload'], [[42], BAD, 'a number'], [[{}], BAD, 'an object'], [[null], BAD, 'null'],
    ]) await runCase(w.agent, 'ticket:leave', args, codes, label);
  });

  test('message:send (nothing stored)', T, async () => {
    const before = (await messagesOf(t.id, w.agent)).length;
    const beforeOther = (await messagesOf(tOther.id, w.agent)).length;
    for (const [user, args, codes, label] of [
      [w.customer, [], BAD, 'no payload'], [w.customer, [42], BAD, 'a number'], [w.customer, [t.id], BAD, 'a bare string'],
      [w.customer, [{}], BAD, 'empty object'], [w.customer, [{ ticketId: t.id }], BAD, 'no content'],
      [w.customer, [{ content: 'x' }], BAD, 'no ticketId'], [w.customer, [{ ticketId: 42, content: 'x' }], BAD, 'ticketId a number'],
      [w.customer, [{ ticketId: t.id, content: 42 }], BAD, 'content a number'],
      [w.customer, [{ ticketId: t.id, content: { a: 1 } }], BAD, 'content an object'],
      [w.customer, [{ ticketId: t.id, content: '' }], BAD, 'empty content'],
      [w.customer, [{ ticketId: t.id, content: HUGE }], BAD, 'huge content'],
      [w.customer, [{ ticketId: HUGE, content: 'x' }], BAD_OR_NF, 'huge ticketId'],
      [w.customer, [{ ticketId: id(), content: 'x' }], NF, 'unknown ticket'],
      [w.customer, [{ ticketId: tOther.id, content: 'x' }], NF, 'another customer\'s ticket'],
      [w.agent, [{ ticketId: tForeign.id, content: 'x' }], NF, 'another org\'s ticket'],
      [o.admin, [{ ticketId: t.id, content: 'x' }], NF, 'a ticket of this org from another org'],
    ]) {
      await runCase(user, 'message:send', args, codes, label);
      await sleep(150);
    }
    assert.equal((await messagesOf(t.id, w.agent)).length, before, 'nothing stored');
    assert.equal((await messagesOf(tOther.id, w.agent)).length, beforeOther, 'nothing stored');
    assert.equal(seen(observer, 'message:new', () => true, obsMark).length, 0, 'no message:new');
  });

  for (const ev of ['typing:start', 'typing:stop']) {
    test(`${ev} (nothing relayed)`, T, async () => {
      const m = mark(observer);
      for (const [user, args, codes, label] of [
        [w.agent, [], BAD, 'no payload'], [w.agent, [42], BAD, 'a number'], [w.agent, [{}], BAD, 'an object'],
        [w.agent, [HUGE], BAD_OR_NF, 'a huge string'], [w.agent, [id()], NF, 'an unknown ticket'],
        [w.customer, [tOther.id], NF, 'another customer\'s ticket'],
        [o.agent, [t.id], NF, 'a ticket of this org from another org'],
      ]) await runCase(user, ev, args, codes, label);
      await sleep(300);
      assert.equal(seen(observer, ev, () => true, m).length, 0, `no ${ev} relayed to the room`);
    });
  }

  test('presence:status', T, async () => {
    for (const [args, label] of [
      [[], 'no payload'], [['online'], 'a bare string'], [[{}], 'no status'], [[{ status: 5 }], 'a number'],
      [[{ status: 'sleeping' }], 'an unknown status'], [[{ status: 'ONLINE' }], 'upper case'],
      [[{ status: 'offline' }], 'offline'], [[{ status: HUGE }], 'a huge string'], [[null], 'null'],
    ]) await runCase(w.agent, 'presence:status', args, BAD, label);
  });

  test('presence:subscribe / presence:unsubscribe', T, async () => {
    for (const ev of ['presence:subscribe', 'presence:unsubscribe']) {
      for (const [args, label] of [
        [[], 'no payload'], [[42], 'a number'], [[{}], 'no userIds'], [[{ userIds: 'x' }], 'userIds a string'],
        [[{ userIds: [42] }], 'a number in userIds'],
      ]) await runCase(w.agent, ev, args, BAD, label);
      await runCase(w.agent, ev, [{ userIds: [HUGE] }], BAD_OR_NF, 'a huge id');
    }
  });

  test('presence:subscribe to another org\'s user reveals nothing', T, async () => {
    const foreign = await open(o.agent2);
    const s = await open(w.agent);
    const m = mark(s);
    s.emit('presence:subscribe', { userIds: [o.agent2.id] });
    // either an error, or a list that does not show the user online
    for (let i = 0; i < 100 && !seen(s, 'presence:list', () => true, m).length && !seen(s, 'error', () => true, m).length; i++) await sleep(50);
    const err = seen(s, 'error', () => true, m);
    const list = seen(s, 'presence:list', () => true, m);
    assert.ok(err.length || list.length, 'an answer');
    if (err.length) assertErrEvent(err[0], [NF, 'FORBIDDEN', BAD], 'subscribe to another org');
    for (const l of list) {
      assert.ok(Array.isArray(l));
      for (const x of l) if (x.userId === o.agent2.id) assert.equal(x.status, 'offline', 'another org\'s user is not shown online');
    }
    const m2 = mark(s);
    assertOkAck(await ack(foreign, 'presence:status', { status: 'busy' }));
    await sleep(800);
    assert.equal(seen(s, 'presence:update', (x) => x.userId === o.agent2.id, m2).length, 0, 'no presence:update across orgs');
    assertOkAck(await ack(s, 'ticket:join', t.id));
  });

  test('chat:focus', T, async () => {
    for (const [user, args, codes, label] of [
      [w.agent, [], BAD, 'no payload'], [w.agent, [42], BAD, 'a number'], [w.agent, [{}], BAD, 'no ticketId'],
      [w.agent, [{ ticketId: 42 }], BAD, 'ticketId a number'], [w.agent, [{ ticketId: HUGE }], BAD_OR_NF, 'a huge ticketId'],
      [w.agent, [{ ticketId: id() }], NF, 'an unknown ticket'], [w.agent, [{ ticketId: tForeign.id }], NF, 'another org\'s ticket'],
      [w.customer, [{ ticketId: tOther.id }], NF, 'another customer\'s ticket'],
    ]) await runCase(user, 'chat:focus', args, codes, label);
  });

  test('notification:markRead (nobody else\'s notification changes)', T, async () => {
    for (const [user, args, codes, label] of [
      [w.customer, [], BAD, 'no payload'], [w.customer, [42], BAD, 'a number'], [w.customer, [{}], BAD, 'no id'],
      [w.customer, [{ id: 42 }], BAD, 'id a number'], [w.customer, [{ id: HUGE }], BAD_OR_NF, 'a huge id'],
      [w.customer, [{ id: id() }], NF, 'an unknown id'], [w.customer, [{ id: note.id }], NF, 'another user\'s notification'],
      [w.admin, [{ id: noteForeign.id }], NF, 'another org\'s notification'],
    ]) await runCase(user, 'notification:markRead', args, codes, label);
    const l = await must(200, 'GET', '/notifications?unread=1', undefined, w.customer2);
    assert.ok(l.data.some((x) => x.id === note.id), 'still unread');
    const l2 = await must(200, 'GET', '/notifications?unread=1', undefined, o.customer);
    assert.ok(l2.data.some((x) => x.id === noteForeign.id), 'still unread');
  });

  test('binary attachments where JSON is expected', T, async () => {
    await runCase(w.agent, 'ticket:join', [Buffer.from('abc')], BAD, 'a Buffer');
    await runCase(w.customer, 'message:send', [{ ticketId: t.id, content: Buffer.from('abc') }], BAD, 'content a Buffer');
  });

  test('an unknown event gets a contract error and leaves the socket usable', T, async () => {
    await runCase(w.agent, 'ticket:delete', [t.id], 'any', 'unknown event');
  });
});

test('nothing else affected: the observer stayed connected and got no stray events', T, async () => {
  assert.equal(observer.connected, true);
  const stray = observer.log.slice(obsMark).filter((e) => /^(message|typing|ticket):/.test(e.event));
  assert.deepEqual(stray.map((e) => e.event), []);
  assert.equal(seen(observer, 'error', () => true, obsMark).length, 0);
  const s = await open(w.customer);
  const m = mark(observer);
  const r = await ack(s, 'message:send', { ticketId: t.id, content: 'all good' });
  assertOkAck(r);
  await next(observer, 'message:new', (x) => x.id === r.message.id, { since: m });
});
