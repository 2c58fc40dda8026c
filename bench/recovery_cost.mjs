// What connection state recovery costs (contract 8, issue 12), same run:
// one broker (2 loops) on a redis-server of its own, N idle WebSocket
// sockets of one org, EVENTS room emits to org:<org> at RATE/s. Rounds
// pair a broker with recovery_window = 0 and one with the default window,
// in one adapter_mode:
//   mode=classic (default): off, the emitter's msgpack PUBLISHed; on,
//     pd_keys_lua_xpub (XADD + PUBLISH in one EVAL, one round trip; the
//     script is read from shared/pd_keys.c, its one home).
//   mode=sharded: off, the sharded adapter's JSON SPUBLISHed on the room's
//     channel; on, XADD of the emitter's msgpack to the namespace's stream,
//     then SPUBLISH of the JSON with "offset" = the stream id (two round
//     trips: the second needs the first's reply).
// That is what pd_emitter_send (shared/pd_emitter.c: the API, pushdeskctl)
// sends. Before the rounds, each of the mode's two paths is checked against
// the real one: build/cli/pushdeskctl emit and this script publish the same
// event to a room of its own, and what arrives on the channel, what lands
// in the stream and the Valkey commands they ran must be the same bytes
// and counts (ids aside), or the bench stops.
// Rounds: off then on, then on then off, and so on. Reported per round:
// the broker's CPU (utime+stime from /proc) per delivery, Valkey commands
// per emit (INFO commandstats, the publisher's and the broker's), the
// publisher's round trips per emit (commands it waited for in turn), the
// broker's RSS per idle socket, and that every socket got every event;
// then a summary (CPU ratio on/off of the rounds' sums).
// When taskset is there and there are 2 cores or more, the broker is
// pinned to core 0; run the script itself under `taskset -c 1` so that the
// clients, redis-server and the publisher stay off the broker's core.
//   PD_BUILD=build taskset -c 1 node bench/recovery_cost.mjs [mode=classic|sharded]
//        [sockets=200] [events=2000] [rounds=2]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep, requireNode, SRC, BUILD, withTimeout } from '../tests/integration/lib/broker.mjs';
import { startRedis, startClusterBroker, waitValkeyUp, tokenFor, KEY } from '../tests/integration/lib/cluster.mjs';

const args = process.argv.slice(2);
const MODE = (args.find((a) => a.startsWith('mode=')) || `mode=${process.env.PD_BENCH_MODE || 'classic'}`).slice(5);
const nums = args.filter((a) => !a.startsWith('mode='));
if (MODE !== 'classic' && MODE !== 'sharded') throw new Error(`mode must be classic or sharded, not ${MODE}`);
const N = Number(nums[0] || 200);
const EVENTS = Number(nums[1] || 2000);
const ROUNDS = Number(nums[2] || 2);
const RATE = 500;
const STREAM_MAX = 10000; // recovery_max_events' default
const ORG = '00000000-0000-4000-8000-0000000000cc';
const TICK = 100; // USER_HZ
const notepack = requireNode('notepack.io');
const CTL = path.join(BUILD, 'cli', 'pushdeskctl');
const STREAM = `${KEY}:{recovery}:events:/`;

// pd_keys_lua_xpub, from its C string literal
function xpubScript() {
  const c = readFileSync(path.join(SRC, 'shared', 'pd_keys.c'), 'utf8');
  const m = /pd_keys_lua_xpub\[\] =([\s\S]*?);\n/.exec(c);
  if (!m) throw new Error('pd_keys_lua_xpub not found in shared/pd_keys.c');
  return [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('')
    .replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
}
const lua = xpubScript();

const channel = (room) => `${KEY}#/#${room}#`;
// the emitter's msgpack (pd_emitter_encode): the classic message and the
// stream entry of both modes
const classicMsg = (room, ev, data) => notepack.encode(['emitter', { type: 2, data: [ev, data], nsp: '/' },
  { rooms: [room], flags: {}, except: [] }]);
// createShardedAdapter's JSON, keys in its order (pd_emitter_encode_sharded)
const shardedMsg = (room, ev, data) => JSON.stringify({
  type: 3, data: { packet: { type: 2, data: [ev, data] }, opts: { rooms: [room], except: [], flags: {} } },
  uid: 'emitter', nsp: '/',
});

// One emit as pd_emitter_send sends it; resolves to the round trips taken.
async function publish(rc, recovery, room, ev, data) {
  if (MODE === 'classic') {
    const msg = classicMsg(room, ev, data);
    if (recovery) await rc.sendCommand(['EVAL', lua, '1', STREAM, msg, channel(room), String(STREAM_MAX)]);
    else await rc.sendCommand(['PUBLISH', channel(room), msg]);
    return 1;
  }
  const msg = shardedMsg(room, ev, data);
  if (!recovery) {
    await rc.sendCommand(['SPUBLISH', channel(room), msg]);
    return 1;
  }
  const id = await rc.sendCommand(['XADD', STREAM, 'MAXLEN', '~', String(STREAM_MAX), '*', 'm', classicMsg(room, ev, data)]);
  await rc.sendCommand(['SPUBLISH', channel(room), `${msg.slice(0, -1)},"offset":"${id}"}`]); // pd_wire_sh_offset
  return 2;
}

const cpuTicks = (pid) => {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(rest[11]) + Number(rest[12]);
};
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function calls(rc) {
  const out = {};
  for (const line of (await rc.sendCommand(['INFO', 'commandstats'])).split('\n')) {
    const m = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
// commands run between two calls() (the second INFO not counted)
function delta(c0, c1) {
  const d = {};
  for (const [k, v] of Object.entries(c1)) {
    const n = v - (c0[k] || 0) - (k === 'info' ? 1 : 0);
    if (n > 0) d[k] = n;
  }
  return d;
}

// The newest stream entry: [id, its "m" bytes], or null.
async function lastEntry(rc) {
  const { commandOptions } = requireNode('redis');
  const r = await rc.sendCommand(['XREVRANGE', STREAM, '+', '-', 'COUNT', '1'], commandOptions({ returnBuffers: true }));
  return r.length ? [r[0][0].toString(), r[0][1][1]] : null;
}

// pushdeskctl emit and publish() side by side on a room nobody else hears:
// the same channel bytes, stream bytes and commands, or an Error.
async function checkWire(r, rc, recovery) {
  const room = 'bench-wire-check';
  const ev = 'bench:check';
  const data = { n: 1, s: 'x'.repeat(40), nested: { a: [1, 'b'] } };
  const sub = rc.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const got = [];
  if (MODE === 'sharded') await sub.sSubscribe(channel(room), (m) => got.push(m), true);
  else await sub.subscribe(channel(room), (m) => got.push(m), true);
  const env = {
    ...process.env, PUSHDESK_VALKEY_URL: r.url, PUSHDESK_ADAPTER_KEY: KEY, PUSHDESK_ADAPTER_MODE: MODE,
  };
  if (!recovery) env.PUSHDESK_RECOVERY_WINDOW = '0';
  const sides = [];
  try {
    for (const who of ['pushdeskctl', 'bench']) {
      const before = got.length;
      const c0 = await calls(rc);
      if (who === 'pushdeskctl') {
        execFileSync(CTL, ['emit', '--room', room, ev, JSON.stringify(data)], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
      } else {
        await publish(rc, recovery, room, ev, data);
      }
      const c1 = await calls(rc);
      await withTimeout((async () => { while (got.length === before) await sleep(10); })(), 5000, `${who}'s message on ${channel(room)}`);
      sides.push({ who, msg: got[before], entry: recovery ? await lastEntry(rc) : null, cmds: delta(c0, c1) });
    }
  } finally {
    await sub.quit().catch(() => {});
  }
  const [ctl, js] = sides;
  const norm = (s) => (s.entry ? s.msg.toString('latin1').split(s.entry[0]).join('<id>') : s.msg.toString('latin1'));
  const bad = [];
  if (norm(ctl) !== norm(js)) bad.push(`channel message:\n  pushdeskctl ${ctl.msg.toString('hex')}\n  bench       ${js.msg.toString('hex')}`);
  if (recovery && (!ctl.entry || !js.entry || !ctl.entry[1].equals(js.entry[1]))) bad.push('stream entry differs');
  if (JSON.stringify(ctl.cmds) !== JSON.stringify(js.cmds)) bad.push(`commands: pushdeskctl ${JSON.stringify(ctl.cmds)}, bench ${JSON.stringify(js.cmds)}`);
  if (bad.length) throw new Error(`mode=${MODE} recovery=${recovery}: the bench does not publish as pd_emitter_send:\n${bad.join('\n')}`);
  return js.cmds;
}

const pinned = (() => {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); } catch { return false; }
  return os.cpus().length >= 2;
})();

async function round(r, rc, recovery) {
  const b = await startClusterBroker(r, {
    log_level: 'notice', adapter_mode: MODE, recovery_window: recovery ? 120000 : 0,
  });
  await waitValkeyUp(b);
  if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '0', String(b.pid)], { stdio: 'ignore' });
  await sleep(300);
  const { io } = requireNode('socket.io-client');
  const rss0 = rssKb(b.pid);
  let got = 0;
  const socks = [];
  for (let i = 0; i < N; i++) {
    const sub = `00000000-0000-4000-8000-${String(3000 + i).padStart(12, '0')}`;
    const s = io(b.url, { auth: { token: tokenFor({ sub, org: ORG }) }, transports: ['websocket'], reconnection: false, forceNew: true });
    s.on('message:new', () => { got++; });
    await new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); });
    socks.push(s);
  }
  await sleep(1500); // sessions persisted, the room's channel subscribed
  const rssPer = ((rssKb(b.pid) - rss0) * 1024) / N;
  const payload = { id: 'm', ticketId: 't', content: 'x'.repeat(200), senderId: 'u', senderName: 'U', senderRole: 'agent', createdAt: '2026-01-01T00:00:00.000Z' };
  const c0 = await calls(rc);
  const t0 = cpuTicks(b.pid);
  const start = Date.now();
  let trips = 0;
  for (let i = 0; i < EVENTS; i++) {
    trips += await publish(rc, recovery, `org:${ORG}`, 'message:new', { ...payload, eventId: i });
    const wait = start + ((i + 1) * 1000) / RATE - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const deadline = Date.now() + 30000;
  while (got < EVENTS * N && Date.now() < deadline) await sleep(50);
  const ticks = cpuTicks(b.pid) - t0;
  const ops = delta(c0, await calls(rc));
  let total = 0;
  for (const [k, v] of Object.entries(ops)) { ops[k] = +(v / EVENTS).toFixed(3); total += v; }
  for (const s of socks) s.disconnect();
  await b.stop();
  return {
    mode: MODE, recovery, delivered: got, expected: EVENTS * N, usPerDelivery: +((ticks * 1e6) / TICK / Math.max(got, 1)).toFixed(3),
    valkeyCommandsPerEmit: +(total / EVENTS).toFixed(3), byCommand: ops,
    publisherRoundTripsPerEmit: trips / EVENTS,
    rssBytesPerSocket: Math.round(rssPer),
  };
}

process.setMaxListeners(4 * ROUNDS + 16); // an exit hook per broker's temporary folder
const r = await startRedis();
const { createClient } = requireNode('redis');
const rc = createClient({ url: r.url });
await rc.connect();
try {
  for (const recovery of [false, true]) {
    const cmds = await checkWire(r, rc, recovery);
    console.log(JSON.stringify({ mode: MODE, recovery, wireCheck: 'same as pushdeskctl emit', commands: cmds }));
  }
  if (!pinned) console.log(JSON.stringify({ note: 'not pinned: no taskset or fewer than 2 cores' }));
  const res = [];
  for (let k = 0; k < ROUNDS; k++) {
    // which goes first alternates: the machine's load drifts
    for (const recovery of k % 2 ? [true, false] : [false, true]) res.push(await round(r, rc, recovery));
  }
  for (const x of res) console.log(JSON.stringify(x));
  // the figure to read: single rounds of one configuration vary by 2x on
  // a shared machine, the sums of the rounds less
  const side = (on) => res.filter((x) => x.recovery === on);
  const sum = (on) => side(on).reduce((a, x) => a + x.usPerDelivery, 0);
  const rss = (on) => Math.round(side(on).reduce((a, x) => a + x.rssBytesPerSocket, 0) / side(on).length);
  console.log(JSON.stringify({
    mode: MODE, allDelivered: res.every((x) => x.delivered === x.expected),
    usPerDeliveryOff: side(false).map((x) => x.usPerDelivery), usPerDeliveryOn: side(true).map((x) => x.usPerDelivery),
    cpuRatioOnOff: +(sum(true) / sum(false)).toFixed(2), rssPerSocketOff: rss(false), rssPerSocketOn: rss(true),
  }));
} finally {
  await rc.quit().catch(() => {});
  await r.stop();
}
