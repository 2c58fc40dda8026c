// Contract 3.3: rate limits per socket and per event (defaults of the stack's
// broker, through nginx): typing:start 10 per 10 s, message:send 5 per 1 s,
// presence:status 5 per 60 s, any other 100 per 60 s. The (N+1)th is dropped
// with error RATE_LIMITED {retryAfter > 0} or the error ack; invalid events
// count too; other sockets are not affected.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, messagesOf, open, closeAll, ack, mark, seen, next, quiet, errorEvent,
  assertErrAck, assertErrEvent, assertOkAck, sleep,
} from './lib/rt.mjs';
import { waitFor } from './lib/pd.mjs';

afterEach(() => closeAll());
const w = world();

function limited(e, maxRetry, what) {
  assertErrEvent(e, 'RATE_LIMITED', what);
  assert.equal(typeof e.retryAfter, 'number', `${what}: retryAfter ${JSON.stringify(e)}`);
  assert.ok(e.retryAfter > 0 && e.retryAfter <= maxRetry, `${what}: retryAfter ${e.retryAfter} in (0, ${maxRetry}]`);
}

const errors = (s, since) => seen(s, 'error', () => true, since);

test('typing:start: 10 per 10 s, the 11th RATE_LIMITED and dropped; another socket unaffected', T, async () => {
  const t = await mkTicket(w.customer);
  const [s, s2, rx] = await Promise.all([open(w.agent), open(w.agent), open(w.customer)]);
  for (const x of [s, s2, rx]) assertOkAck(await ack(x, 'ticket:join', t.id));
  const m = mark(s);
  const mr = mark(rx);
  for (let i = 0; i < 10; i++) s.emit('typing:start', t.id);
  await next(rx, 'typing:start', () => true, { since: mr });
  await sleep(500);
  assert.deepEqual(errors(s, m), [], 'the first 10 pass');
  const relayed = seen(rx, 'typing:start', () => true, mr).length;
  const m11 = mark(s);
  const mr11 = mark(rx);
  s.emit('typing:start', t.id);
  limited(await errorEvent(s, m11), 10, '11th typing:start');
  await quiet(rx, 'typing:start', () => true, 500, mr11, 'for the dropped typing:start');
  assert.ok(relayed >= 1);
  assertErrAck(await ack(s, 'typing:start', t.id), 'RATE_LIMITED', '12th typing:start with an ack');
  // another socket of the same user is not limited
  const m2 = mark(s2);
  assertOkAck(await ack(s2, 'typing:start', t.id), 'typing:start on another socket of the user');
  s2.emit('typing:stop', t.id);
  await sleep(200);
  assert.deepEqual(errors(s2, m2), []);
  // other events of the limited socket are not limited
  assertOkAck(await ack(s, 'ticket:join', t.id), 'ticket:join on the limited socket');
});

test('invalid events count: 10 malformed typing:start, then a valid one is RATE_LIMITED', T, async () => {
  const t = await mkTicket(w.customer);
  const s = await open(w.agent);
  assertOkAck(await ack(s, 'ticket:join', t.id));
  const m = mark(s);
  for (let i = 0; i < 10; i++) s.emit('typing:start', 12345);
  for (let i = 0; i < 100 && errors(s, m).length < 10; i++) await sleep(50);
  const e10 = errors(s, m);
  assert.equal(e10.length, 10, `10 errors: ${JSON.stringify(e10)}`);
  for (const e of e10) assertErrEvent(e, 'BAD_REQUEST', 'malformed typing:start');
  const m2 = mark(s);
  s.emit('typing:start', t.id);
  limited(await errorEvent(s, m2), 10, 'valid typing:start after 10 malformed');
});

test('message:send: 5 per 1 s; the 6th RATE_LIMITED (ack and event), not stored; works again after the window', T, async () => {
  const t = await mkTicket(w.customer);
  const s = await open(w.customer);
  const acks = await Promise.all(Array.from({ length: 6 }, (_, i) => ack(s, 'message:send', { ticketId: t.id, content: `burst ${i}` })));
  const ok = acks.filter((a) => a && a.ok === true);
  const limitedAcks = acks.filter((a) => a && a.error);
  assert.equal(ok.length, 5, `5 accepted: ${JSON.stringify(acks).slice(0, 600)}`);
  assert.equal(limitedAcks.length, 1);
  assertErrAck(limitedAcks[0], 'RATE_LIMITED', '6th message:send');
  const stored = (await messagesOf(t.id, w.customer)).filter((x) => x.content.startsWith('burst '));
  assert.equal(stored.length, 5, 'the dropped one is not stored');
  await sleep(1200);
  assertOkAck(await ack(s, 'message:send', { ticketId: t.id, content: 'after the window' }), 'after 1 s');
  // without acks: the error event with retryAfter <= 1
  await sleep(1200);
  const m = mark(s);
  for (let i = 0; i < 6; i++) s.emit('message:send', { ticketId: t.id, content: `burst2 ${i}` });
  limited(await errorEvent(s, m), 1, '6th message:send without ack');
  await sleep(500);
  assert.equal(errors(s, m).length, 1, 'one error');
  // without acks nothing says when the five are stored: wait for them, then
  // a moment for a sixth that must not come
  const burst2 = async () => (await messagesOf(t.id, w.customer)).filter((x) => x.content.startsWith('burst2 ')).length;
  await waitFor(async () => (await burst2()) >= 5, { timeout: 10_000, what: 'the five burst2 messages stored' });
  await sleep(300);
  assert.equal(await burst2(), 5, 'the five, not the sixth');
  // another socket is not affected
  const s2 = await open(w.customer);
  assertOkAck(await ack(s2, 'message:send', { ticketId: t.id, content: 'other socket' }));
});

test('presence:status: 5 per 60 s; the 6th RATE_LIMITED with retryAfter <= 60; another socket unaffected', T, async () => {
  const u = w.user('agent');
  const [s, s2] = await Promise.all([open(u), open(u)]);
  const m = mark(s);
  for (const st of ['away', 'busy', 'online', 'away', 'busy']) assertOkAck(await ack(s, 'presence:status', { status: st }), st);
  assert.deepEqual(errors(s, m), []);
  s.emit('presence:status', { status: 'online' });
  limited(await errorEvent(s, m), 60, '6th presence:status');
  assertErrAck(await ack(s, 'presence:status', { status: 'online' }), 'RATE_LIMITED', '7th with an ack');
  assertOkAck(await ack(s2, 'presence:status', { status: 'online' }), 'the user\'s other socket');
});

test('any other event: 100 per 60 s per event name (ticket:leave, presence:ping, an unknown event)', T, async () => {
  const t = await mkTicket(w.customer);
  const s = await open(w.agent);
  for (let i = 0; i < 100; i++) {
    const r = await ack(s, 'ticket:leave', t.id);
    assertOkAck(r, `ticket:leave #${i + 1}`);
  }
  assertErrAck(await ack(s, 'ticket:leave', t.id), 'RATE_LIMITED', '101st ticket:leave');
  // presence:ping without acks: the 101st gives the error event
  let m = mark(s);
  for (let i = 0; i < 100; i++) s.emit('presence:ping');
  await sleep(800);
  assert.deepEqual(errors(s, m), [], '100 presence:ping pass');
  s.emit('presence:ping');
  limited(await errorEvent(s, m), 60, '101st presence:ping');
  // an unknown event: 100 errors that are not RATE_LIMITED, then RATE_LIMITED
  m = mark(s);
  for (let i = 0; i < 100; i++) s.emit('no:such:event', i);
  for (let i = 0; i < 100 && errors(s, m).length < 100; i++) await sleep(50);
  const e = errors(s, m);
  assert.equal(e.length, 100, `${e.length} errors`);
  assert.ok(e.every((x) => x.code !== 'RATE_LIMITED'), 'the first 100 are not rate limited');
  const m2 = mark(s);
  s.emit('no:such:event', 101);
  limited(await errorEvent(s, m2), 60, '101st unknown event');
  // each event name has its own budget
  assertOkAck(await ack(s, 'ticket:join', t.id), 'ticket:join still allowed');
});
