// PostgreSQL goes away under a connected client (pd_stop_pg / pd_start_pg of
// tests/lib/stack.sh): ticket:join and message:send answer INTERNAL (ack and
// error event) during the outage, the connection stays up, and both work
// again once PostgreSQL is back.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, mkTicket, open, closeAll, ack, mark, next, errorEvent, assertErrAck,
  assertErrEvent, assertOkAck, sleep,
} from './lib/rt.mjs';
import { stack } from './lib/pd.mjs';
import { sql } from './api_lib.mjs';

const w = world();
afterEach(() => closeAll());
after(() => {
  try { stack('pd_pg_running || pd_start_pg'); } catch { /* reported by the harness */ }
});

test('PostgreSQL down: ticket:join and message:send answer INTERNAL; they work again after', { timeout: 180_000 }, async () => {
  // tickets this agent never touched (no access cached by the broker)
  const [t1, t2, t3] = [await mkTicket(w.customer), await mkTicket(w.customer), await mkTicket(w.customer)];
  const ag = await open(w.agent);
  const watcher = await open(w.agent2);
  stack('pd_stop_pg');
  let restarted = false;
  try {
    await sleep(300);
    const t0 = Date.now();
    assertErrAck(await ack(ag, 'ticket:join', t1.id), 'INTERNAL', 'ticket:join during the outage');
    assert.ok(Date.now() - t0 < 5000, 'answered within 5 s');
    let m = mark(ag);
    ag.emit('ticket:join', t2.id);
    assertErrEvent(await errorEvent(ag, m), 'INTERNAL', 'ticket:join without ack');
    await sleep(250);
    assertErrAck(await ack(ag, 'message:send', { ticketId: t1.id, content: 'during the outage' }), 'INTERNAL', 'message:send during the outage');
    await sleep(250);
    m = mark(ag);
    ag.emit('message:send', { ticketId: t3.id, content: 'during the outage, no ack' });
    assertErrEvent(await errorEvent(ag, m), 'INTERNAL', 'message:send without ack');
    assert.equal(ag.connected, true, 'the socket stays connected');
    assert.deepEqual(ag.disconnects, []);
    stack('pd_start_pg');
    restarted = true;
  } finally {
    if (!restarted) stack('pd_start_pg');
  }
  // back: the same events work again (within a bounded retry)
  const deadline = Date.now() + 30_000;
  let r;
  for (;;) {
    r = await ack(ag, 'ticket:join', t1.id);
    if (r && r.ok === true) break;
    assert.ok(Date.now() < deadline, `ticket:join still failing 30 s after PostgreSQL came back: ${JSON.stringify(r)}`);
    await sleep(1000);
  }
  // once one event works, every later one does (no stale database connection
  // left to fail a client's request)
  const later = [];
  for (const [s, ev, arg] of [[watcher, 'ticket:join', t1.id], [ag, 'ticket:join', t2.id], [ag, 'ticket:join', t3.id],
    [watcher, 'ticket:join', t2.id], [watcher, 'ticket:join', t3.id]]) {
    const x = await ack(s, ev, arg);
    later.push(x && x.ok === true ? 'ok' : JSON.stringify(x));
  }
  assert.deepEqual(later, ['ok', 'ok', 'ok', 'ok', 'ok'], 'every ticket:join after the recovery');
  const mw = mark(watcher);
  await sleep(250);
  r = await ack(ag, 'message:send', { ticketId: t1.id, content: 'after the outage' });
  assertOkAck(r, 'message:send after the outage');
  await next(watcher, 'message:new', (x) => x.id === r.message.id, { since: mw });
  // what PostgreSQL holds (read with psql: the API's own recovery is tested elsewhere)
  const rows = (id) => sql(`SELECT content FROM messages WHERE ticket_id = :'t' ORDER BY seq`, { t: id }).map((x) => x[0]);
  assert.deepEqual(rows(t1.id), ['after the outage'], 'nothing stored during the outage');
  assert.deepEqual(rows(t3.id), []);
});
