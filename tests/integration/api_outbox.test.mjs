// The transactional outbox: a committed change's events are published even
// when the API process dies right after COMMIT (test hook, relay) or Valkey
// is down during the writes; PostgreSQL down is a 503 naming the database,
// and the API recovers when it is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { api, mkWorld, sql, stack, subscriber, waitFor } from './api_lib.mjs';

const w = mkWorld();
let sub;
before(async () => {
  sub = await subscriber();
});
after(async () => {
  await sub?.close();
  // leave the stack as found
  try {
    stack('pd_redis_running || pd_start_redis');
    stack('pd_pg_running || pd_start_pg');
  } catch {
    /* reported by the harness */
  }
});

test('worker dies right after COMMIT (test hook): the relay still publishes the event', async (t) => {
  const subject = 'crash ' + randomUUID();
  sub.clear();
  const r = await api('POST', '/tickets', { subject }, w.customer.tok, { 'x-pushdesk-test-crash': 'after-commit' });
  if (r.status === 201) {
    t.skip('pushdesk-api built without --enable-test-hooks');
    return;
  }
  assert.ok(r.status === 502 || r.status === 503 || r.status === 504, `the worker died: ${r.status} ${r.text}`);
  const rows = sql(`SELECT id FROM tickets WHERE subject = :'s'`, { s: subject });
  assert.equal(rows.length, 1, 'the ticket was committed');
  const id = rows[0][0];
  const got = await sub.wait((m) => m.event === 'ticket:created' && m.payload.id === id, 1, 15000);
  assert.equal(got.length, 1, 'ticket:created published by the relay');
  const ob = sql(`SELECT id, published_at IS NOT NULL FROM outbox WHERE event = 'ticket:created' AND payload->>'id' = :'id'`, { id });
  assert.equal(ob.length, 1);
  assert.equal(Number(ob[0][0]), got[0].payload.eventId);
  await waitFor(() => sql(`SELECT published_at IS NOT NULL FROM outbox WHERE id = :'i'`, { i: ob[0][0] })[0][0] === 't', { what: 'published_at set' });
  // and the API serves again (the worker was replaced)
  const ok = await waitFor(async () => (await api('GET', `/tickets/${id}`, undefined, w.customer.tok)).status === 200, { what: 'the API back' });
  assert.ok(ok);
});

// Hold row locks on the unpublished outbox rows so that the relay (FOR UPDATE
// SKIP LOCKED) leaves them alone until release() — long enough to subscribe
// again after a Valkey restart.
async function holdOutbox() {
  const bin = process.env.PD_PGBIN ? path.join(process.env.PD_PGBIN, 'psql') : 'psql';
  const app = 'pd_outbox_hold_' + process.pid;
  const p = spawn(bin, ['-X', '-q', '-d', process.env.PD_DATABASE_URL], {
    stdio: ['pipe', 'ignore', 'inherit'],
    env: { ...process.env, PGAPPNAME: app },
  });
  p.stdin.write('BEGIN; SELECT count(*) FROM (SELECT id FROM outbox WHERE published_at IS NULL FOR UPDATE) s;\n');
  // psql's output is buffered: watch its session from another one instead.
  await waitFor(
    () => sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = :'a' AND state = 'idle in transaction'`, { a: app })[0][0] === '1',
    { what: 'psql to lock the outbox rows' },
  ).catch((e) => {
    p.kill();
    throw e;
  });
  return {
    release: () =>
      new Promise((res) => {
        p.on('exit', res);
        p.stdin.end('COMMIT;\n');
      }),
  };
}

test('Valkey down during writes: the writes succeed and every event arrives once it is back', async () => {
  const subjects = [];
  stack('pd_stop_redis');
  let lock;
  try {
    const h = await api('GET', '/health');
    assert.equal(h.status, 503);
    assert.equal(h.json.error.code, 'UNAVAILABLE');
    assert.match(h.json.error.message, /valkey/);
    assert.equal(h.json.db, 'ok');
    for (let i = 0; i < 4; i++) {
      const s = `while valkey is down ${i} ${randomUUID()}`;
      const r = await api('POST', '/tickets', { subject: s }, w.customer.tok);
      assert.equal(r.status, 201, r.text);
      subjects.push(r.json.id);
    }
    const m = await api('POST', `/tickets/${subjects[0]}/messages`, { content: 'queued' }, w.customer.tok);
    assert.equal(m.status, 201);
    const pending = sql(`SELECT count(*) FROM outbox WHERE published_at IS NULL AND (payload->>'id' = ANY(:'ids'::text[]) OR payload->>'ticketId' = :'t')`, {
      ids: `{${subjects.join(',')}}`,
      t: subjects[0],
    })[0][0];
    // 4 ticket:created; the message's message:new, its staff feed message:feed
    // (contract 7.4) and its participants' copy message:participants (7.3)
    assert.equal(Number(pending), 7, 'all seven events wait in the outbox');
    lock = await holdOutbox();
  } finally {
    stack('pd_start_redis');
  }
  await sub.close();
  sub = await subscriber();
  await lock.release();
  const created = await sub.wait((m) => m.event === 'ticket:created' && subjects.includes(m.payload.id), 4, 20000);
  assert.equal(created.length, 4);
  const msg = await sub.wait((m) => m.event === 'message:new' && m.payload.ticketId === subjects[0], 1, 10000);
  assert.equal(msg.length, 1);
  // published in outbox order
  const ids = created.map((m) => m.payload.eventId);
  assert.deepEqual([...ids].sort((a, b) => a - b), ids);
  await waitFor(async () => (await api('GET', '/health')).status === 200, { what: 'health 200 again' });
});

test('PostgreSQL down: 503 "database unavailable", never SQL text; back: the API reconnects', async () => {
  const t = (await api('POST', '/tickets', { subject: 'before the outage' }, w.customer.tok)).json;
  stack('pd_stop_pg');
  try {
    for (const [m, p, b] of [
      ['GET', '/tickets', undefined],
      ['GET', `/tickets/${t.id}`, undefined],
      ['POST', '/tickets', { subject: 'during' }],
      ['POST', `/tickets/${t.id}/messages`, { content: 'during' }],
      ['GET', '/me', undefined],
    ]) {
      const r = await api(m, p, b, w.customer.tok);
      assert.equal(r.status, 503, `${m} ${p}: ${r.text}`);
      assert.deepEqual(r.json, { error: { code: 'UNAVAILABLE', message: 'database unavailable' } });
    }
    const h = await api('GET', '/health');
    assert.equal(h.status, 503);
    assert.equal(h.json.db, 'down');
    assert.match(h.json.error.message, /database/);
  } finally {
    stack('pd_start_pg');
  }
  // every worker reconnects on its next request
  for (let i = 0; i < 8; i++) {
    const r = await api('GET', `/tickets/${t.id}`, undefined, w.customer.tok);
    assert.equal(r.status, 200, r.text);
  }
  const r = await api('POST', `/tickets/${t.id}/messages`, { content: 'after' }, w.customer.tok);
  assert.equal(r.status, 201);
});
