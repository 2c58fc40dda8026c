// GET /api/v1/health through nginx follows PostgreSQL and Valkey going down
// and coming back; nginx's own errors and unknown API paths are JSON; the
// broker's admin listener answers /healthz; the page at / is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, stack, waitFor } from './lib/pd.mjs';

const health = () => api('GET', '/health');

async function healthIs(status) {
  return waitFor(async () => {
    const r = await health();
    return r.status === status ? r : null;
  }, { timeout: 30_000, what: `GET /api/v1/health to answer ${status}` });
}

function isJson(r) {
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(r.body !== null, `a JSON body, got: ${r.text.slice(0, 200)}`);
}

test('health is 200 {db:"ok", valkey:"ok"} with everything up', async () => {
  const r = await healthIs(200);
  isJson(r);
  assert.deepEqual(r.body, { db: 'ok', valkey: 'ok' });
});

test('PostgreSQL stopped: 503 naming db; started again: 200', async () => {
  stack('pd_stop_pg');
  try {
    const r = await healthIs(503);
    isJson(r);
    const text = JSON.stringify(r.body);
    assert.notEqual(r.body.db, 'ok', text);
    assert.match(text, /\bdb\b|database/, text);
    assert.doesNotMatch(text, /valkey"\s*:\s*"(?!ok)/, `valkey is up: ${text}`);
  } finally {
    stack('pd_start_pg');
  }
  const r = await healthIs(200);
  assert.deepEqual(r.body, { db: 'ok', valkey: 'ok' });
});

test('redis stopped: 503 naming valkey; started again: 200', async () => {
  stack('pd_stop_redis');
  try {
    const r = await healthIs(503);
    isJson(r);
    const text = JSON.stringify(r.body);
    assert.notEqual(r.body.valkey, 'ok', text);
    assert.match(text, /valkey/, text);
  } finally {
    stack('pd_start_redis');
  }
  const r = await healthIs(200);
  assert.deepEqual(r.body, { db: 'ok', valkey: 'ok' });
});

test('an unknown /api/v1/ path is a JSON 404', async () => {
  const r = await api('GET', '/no-such-thing-here');
  assert.equal(r.status, 404);
  isJson(r);
  assert.equal(r.body.error?.code, 'NOT_FOUND', r.text);
  assert.equal(typeof r.body.error?.message, 'string');
});

test('a path under /api/ that is not /api/v1/ is a JSON 404 from nginx', async () => {
  const r = await api('GET', '/api/v0/health');
  assert.equal(r.status, 404);
  isJson(r);
  assert.equal(r.body.error?.code, 'NOT_FOUND');
});

test('a body over api_max_body is a JSON 413 from nginx', async () => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  const r = await api('POST', '/tickets', JSON.stringify({ subject: big }), undefined,
    { 'content-type': 'application/json' });
  assert.equal(r.status, 413);
  isJson(r);
  assert.equal(r.body.error?.code, 'PAYLOAD_TOO_LARGE');
});

test('pushdesk-api stopped: a JSON 502 from nginx; started again: 200', async () => {
  stack('pd_stop_api');
  try {
    const r = await health();
    assert.equal(r.status, 502);
    isJson(r);
    assert.equal(r.body.error?.code, 'BAD_GATEWAY');
  } finally {
    stack('pd_start_api');
  }
  await healthIs(200);
});

test('the broker admin listener answers GET /healthz with 200', async () => {
  const r = await fetch(`${env.brokerAdmin}/healthz`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
});

test('nginx serves the dashboard page at /', async () => {
  const r = await fetch(`${env.http}/`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await r.text(), /<title>[^<]*pushdesk/i);
});
