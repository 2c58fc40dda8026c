// Helpers of the connection state recovery tests (recovery_*.test.mjs):
// a publisher through the API (POST /emit) and the count of what a client
// received against what was published.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { must, sleep } from './rt.mjs';
import { waitFor } from './pd.mjs';

// POST /emit of `rec:tick` {run, n} to target ({users: [...]} or {} for
// the whole org), every `every` ms, until stop();
// resolves the number published (each one answered 2xx by the API).
export function publisher(service, target, run, every = 20) {
  let n = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await must(202, 'POST', '/emit', { ...target, event: 'rec:tick', data: { run, n } }, service);
      n++;
      await sleep(every);
    }
    return n;
  })();
  return { stop: () => { stopped = true; return done; }, get n() { return n; } };
}

// The ticks of run received by s, as numbers, and the offsets they came with.
export function ticks(s, run) {
  const got = [];
  const offsets = [];
  s.on('rec:tick', (p, off) => { if (p && p.run === run) { got.push(p.n); offsets.push(off); } });
  return { got, offsets };
}

// Pairs received out of order (a later n before an earlier one).
export function inversions(got) {
  let k = 0;
  for (let i = 1; i < got.length; i++) if (got[i] < got[i - 1]) k++;
  return k;
}

// Every n of 0..count-1 exactly once, in order.
export function assertExact(got, count, what) {
  const missing = [];
  const seen = new Set(got);
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  assert.deepEqual({ missing: missing.slice(0, 20), nmissing: missing.length, dups: got.length - seen.size },
    { missing: [], nmissing: 0, dups: 0 }, `${what}: published ${count}, received ${got.length}`);
  assert.equal(inversions(got), 0, `${what}: in order: ${got.join(' ')}`);
}

// After a broker's death: some clients moved (disconnected and came back),
// not all; each keeps its id (ids[i]), a moved one is recovered, and each
// got every tick of counts[i] once, in order. The moved clients.
export function assertMoved(socks, ids, counts) {
  const moved = socks.filter((s) => s.disconnects.length > 0);
  assert.ok(moved.length > 0 && moved.length < socks.length, `clients on both brokers (moved ${moved.length} of ${socks.length})`);
  for (const [i, s] of socks.entries()) {
    assert.equal(s.id, ids[i], `client ${i} keeps its id`);
    if (s.disconnects.length > 0) assert.equal(s.recovered, true, `moved client ${i}: recovered === true`);
    assertExact(s.t.got, counts[i], `client ${i} (${s.disconnects.length ? 'moved' : 'stayed'})`);
  }
  return moved;
}

// A counter of the broker's /metrics (adminUrl), 0 when absent.
export async function metric(adminUrl, name) {
  const r = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
  const m = new RegExp(`^pushdesk_broker_${name} (\\d+)$`, 'm').exec(await r.text());
  return m ? Number(m[1]) : 0;
}

// Asserts that the counter reaches exactly want. The broker counts a
// recovery (or a miss) after it wrote the CONNECT reply, so a read made as
// soon as the client is connected can come before the count: wait for it
// (up to 5 s), then check it did not overshoot.
export async function assertMetric(adminUrl, name, want, what = name) {
  let v = await metric(adminUrl, name);
  if (v < want) {
    await waitFor(async () => (v = await metric(adminUrl, name)) >= want, { timeout: 5000, what }).catch(() => {});
  }
  assert.equal(v, want, what);
}

// A Lua script of shared/pd_keys.c (its one home), from its C string literal.
export function luaOf(name, src = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')) {
  const c = readFileSync(path.join(src, 'shared', 'pd_keys.c'), 'utf8');
  const m = new RegExp(`${name}\\[\\] =([\\s\\S]*?);\\n`).exec(c);
  if (!m) throw new Error(`${name} not found in shared/pd_keys.c`);
  return [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('')
    .replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
}
