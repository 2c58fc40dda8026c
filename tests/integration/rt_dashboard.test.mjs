// Contract 3.2: the /dashboard namespace. Only admins connect; on connect and
// every 5 s (dashboard_interval) metrics:tickets, metrics:queue and
// metrics:agents for the socket's org, checked against a known fixture.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, world, must, mkTicket, open, client, close, closeAll, ack, mark, next, nextEntry, outcome,
  assertOkAck,
} from './lib/rt.mjs';
import { sql } from './api_lib.mjs';
import { waitFor } from './lib/pd.mjs';

const w = world();
const o = world();
const staff = {};
const main = [];
const keys = (x) => Object.keys(x).filter((k) => k !== 'eventId').sort();

before(async () => {
  // tickets: 3 open (1 assigned, 2 unassigned, one of them an hour old),
  // 1 pending, 2 resolved, 1 closed
  const t = [];
  for (let i = 0; i < 7; i++) t.push(await mkTicket(i % 2 ? w.customer : w.customer2, `fixture ${i}`));
  await must(200, 'PATCH', `/tickets/${t[0].id}`, { assigneeId: w.agent.id }, w.admin);
  await must(200, 'PATCH', `/tickets/${t[3].id}`, { status: 'pending' }, w.admin);
  await must(200, 'PATCH', `/tickets/${t[4].id}`, { status: 'resolved' }, w.admin);
  await must(200, 'PATCH', `/tickets/${t[5].id}`, { status: 'resolved', assigneeId: w.agent2.id }, w.admin);
  await must(200, 'PATCH', `/tickets/${t[6].id}`, { status: 'closed' }, w.admin);
  sql(`UPDATE tickets SET created_at = now() - interval '3600 seconds' WHERE id = :'id'`, { id: t[1].id });
  // presence: agent online, agent2 away, agent3 busy, the admin online;
  // a customer online (not counted), agent4 never connected (not counted)
  staff.agent3 = w.user('agent');
  staff.agent4 = w.user('agent');
  const [sa, sa2, sa3, sad, sc] = await Promise.all([w.agent, w.agent2, staff.agent3, w.admin, w.customer].map((u) => open(u, { keep: true })));
  main.push(sa, sa2, sa3, sad, sc);
  assertOkAck(await ack(sa2, 'presence:status', { status: 'away' }));
  assertOkAck(await ack(sa3, 'presence:status', { status: 'busy' }));
  // the broker writes presence after the CONNECT reply and the status ack:
  // wait until Valkey (what metrics:agents reads) holds the fixture
  const want = { [w.agent.id]: 'online', [w.agent2.id]: 'away', [staff.agent3.id]: 'busy', [w.admin.id]: 'online', [w.customer.id]: 'online' };
  await waitFor(async () => {
    const r = await must(200, 'GET', `/presence?userIds=${Object.keys(want).join(',')}`, undefined, w.admin);
    return r.data.every((x) => want[x.userId] === x.status);
  }, { what: `the fixture's presence in Valkey: ${JSON.stringify(want)}` });
});
after(() => { for (const s of main) close(s); });
afterEach(() => closeAll());

test('/dashboard refuses agents, customers and services: connect_error FORBIDDEN', T, async () => {
  for (const u of [w.agent, w.customer, w.service]) {
    const r = await outcome(client(u, { nsp: '/dashboard' }));
    assert.deepEqual([r.ok, r.message], [false, 'FORBIDDEN'], u.role);
  }
  const r = await outcome(client(w.agent, { nsp: '/dashboard', transports: ['polling'] }));
  assert.deepEqual([r.ok, r.message], [false, 'FORBIDDEN'], 'agent over polling');
});

test('admin: metrics:tickets, metrics:queue, metrics:agents on connect, with the fixture\'s numbers', T, async () => {
  const d = await open(w.admin, { nsp: '/dashboard' });
  const tk = await next(d, 'metrics:tickets');
  const q = await next(d, 'metrics:queue');
  const ag = await next(d, 'metrics:agents');
  assert.deepEqual(keys(tk), ['closed', 'open', 'pending', 'resolved']);
  assert.deepEqual({ ...tk, eventId: undefined }, { open: 3, pending: 1, resolved: 2, closed: 1, eventId: undefined });
  assert.deepEqual(keys(q), ['oldestWaitingSeconds', 'unassigned']);
  assert.equal(q.unassigned, 2);
  assert.ok(q.oldestWaitingSeconds >= 3600 && q.oldestWaitingSeconds < 3700, `oldestWaitingSeconds ${q.oldestWaitingSeconds} (want about 3600)`);
  assert.deepEqual(keys(ag), ['away', 'busy', 'online']);
  assert.deepEqual({ online: ag.online, away: ag.away, busy: ag.busy }, { online: 2, away: 1, busy: 1 });
});

test('another org\'s admin sees its own org only; 0 oldestWaitingSeconds when the queue is empty', T, async () => {
  const d = await open(o.admin, { nsp: '/dashboard' });
  const tk = await next(d, 'metrics:tickets');
  const q = await next(d, 'metrics:queue');
  const ag = await next(d, 'metrics:agents');
  assert.deepEqual({ open: tk.open, pending: tk.pending, resolved: tk.resolved, closed: tk.closed }, { open: 0, pending: 0, resolved: 0, closed: 0 });
  assert.deepEqual({ unassigned: q.unassigned, oldestWaitingSeconds: q.oldestWaitingSeconds }, { unassigned: 0, oldestWaitingSeconds: 0 });
  assert.ok(ag.online + ag.away + ag.busy <= 1, `only the dashboard's admin may count: ${JSON.stringify(ag)}`);
  assert.equal(ag.away + ag.busy, 0);
});

test('metrics come again every 5 s and follow changes', T, async () => {
  const d = await open(w.admin, { nsp: '/dashboard' });
  // on connect, then rounds every 5 s (the first round may come sooner
  // than 5 s after the connect when the timer is shared): time two rounds
  await nextEntry(d, 'metrics:tickets', () => true, { since: 0 });
  const i1 = mark(d);
  const second = await nextEntry(d, 'metrics:tickets', () => true, { since: i1, ms: 8000 });
  const i2 = mark(d);
  const third = await nextEntry(d, 'metrics:tickets', () => true, { since: i2, ms: 8000 });
  const gap = third.t - second.t;
  assert.ok(gap >= 4000 && gap <= 6500, `interval ${gap} ms (want 5000)`);
  // the round's other two events: metrics:agents follows a Valkey presence
  // read, so it may come a moment after metrics:tickets
  for (const ev of ['metrics:queue', 'metrics:agents']) {
    await nextEntry(d, ev, () => true, { since: i2, ms: 2000 });
  }
  // changes: a new open unassigned ticket; the online agent becomes busy
  const m = mark(d);
  const nt = await mkTicket(w.customer, 'a new one');
  assertOkAck(await ack(main[0], 'presence:status', { status: 'busy' }));
  const tk = await next(d, 'metrics:tickets', (x) => x.open === 4, { since: m, ms: 7000 });
  assert.deepEqual({ open: tk.open, pending: tk.pending, resolved: tk.resolved, closed: tk.closed }, { open: 4, pending: 1, resolved: 2, closed: 1 });
  const q = await next(d, 'metrics:queue', (x) => x.unassigned === 3, { since: m, ms: 7000 });
  assert.ok(q.oldestWaitingSeconds >= 3600);
  const ag = await next(d, 'metrics:agents', (x) => x.busy === 2, { since: m, ms: 7000 });
  assert.deepEqual({ online: ag.online, away: ag.away, busy: ag.busy }, { online: 1, away: 1, busy: 2 });
  // the agent that goes away entirely is no longer counted
  const m2 = mark(d);
  close(main[2]); // agent3 (busy) disconnects
  await must(200, 'PATCH', `/tickets/${nt.id}`, { assigneeId: w.agent.id }, w.admin);
  const q2 = await next(d, 'metrics:queue', (x) => x.unassigned === 2, { since: m2, ms: 7000 });
  assert.ok(q2.oldestWaitingSeconds >= 3600);
  const ag2 = await next(d, 'metrics:agents', (x) => x.busy === 1, { since: m2, ms: 7000 });
  assert.deepEqual({ online: ag2.online, away: ag2.away, busy: ag2.busy }, { online: 1, away: 1, busy: 1 });
  // and back to the fixture's presence for nobody else
  assertOkAck(await ack(main[0], 'presence:status', { status: 'online' }));
});
