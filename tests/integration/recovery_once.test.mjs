// A publisher that lost a reply sends the event again (the API's outbox
// relay retries its rows): with an event id it reaches the recovery stream
// once (pd_keys_lua_xpub_once, pd_keys_lua_xadd_once, shared/pd_keys.c,
// run here on the stack's Valkey as pd_emitter runs them): the second run
// appends nothing, publishes nothing (classic) or answers the first id
// (sharded, whose SPUBLISH follows with it: brokers deliver an id once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { T } from './lib/rt.mjs';
import { env } from './lib/pd.mjs';
import { luaOf } from './lib/recovery.mjs';

// redis-cli -c: on a cluster the script goes to its keys' node
const cli = (...args) => execFileSync('redis-cli', ['-c', '-p', String(env.redisPort), ...args.map(String)],
  { encoding: 'utf8' }).trim();

const tag = `once${process.pid}${Date.now()}`;
const stream = `${tag}:{recovery}:events:/`;
const msg = '\u0093\u00a7emitter\u0080\u0080'; // any [uid, packet, opts]-looking bytes

test('the sharded append: twice with one event id, one entry and the same id', T, () => {
  const seen = `${tag}:{recovery}:seen:outbox:7`;
  const script = luaOf('pd_keys_lua_xadd_once');
  const a = cli('EVAL', script, 2, stream, seen, msg, 100, 60000);
  const b = cli('EVAL', script, 2, stream, seen, msg, 100, 60000);
  assert.match(a, /^\d+-\d+$/, 'a stream id');
  assert.equal(b, a, 'the second run answers the first id');
  assert.equal(cli('XLEN', stream), '1');
  // another event: a new entry
  const c = cli('EVAL', script, 2, stream, `${tag}:{recovery}:seen:outbox:8`, msg, 100, 60000);
  assert.notEqual(c, a);
  assert.equal(cli('XLEN', stream), '2');
  const ttl = Number(cli('PTTL', seen));
  assert.ok(ttl > 0 && ttl <= 60000, `the seen key expires with the window: ${ttl}`);
});

test('the classic script: twice with one event id, one entry and one publish', T, () => {
  const seen = `${tag}:{recovery}:seen:outbox:9`;
  const script = luaOf('pd_keys_lua_xpub_once');
  const before = Number(cli('XLEN', stream));
  cli('EVAL', script, 2, stream, seen, msg, `${tag}#/#`, 100, 60000);
  const second = cli('EVAL', script, 2, stream, seen, msg, `${tag}#/#`, 100, 60000);
  assert.equal(second, '0', 'nothing published the second time');
  assert.equal(Number(cli('XLEN', stream)), before + 1);
  cli('DEL', stream);
});
