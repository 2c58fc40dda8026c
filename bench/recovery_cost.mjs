// What connection state recovery costs (contract 8, issue 12), same run:
// one broker (2 loops) on a redis-server of its own, N idle WebSocket
// sockets of one org, EVENTS room emits to org:<org> at RATE/s. Rounds
// alternate a broker with recovery_window = 0 (events PUBLISHed as an
// emitter does) and one with the default window (events through
// pd_keys_lua_xpub, XADD + PUBLISH, as the API and pushdeskctl send them
// then; the script is read from shared/pd_keys.c, its one home). Reported
// per round: the broker's CPU (utime+stime from /proc) per delivery, Valkey
// commands per emit (INFO commandstats, the publisher's and the broker's),
// the broker's RSS per idle socket, and that every socket got every event.
//   PD_BUILD=build node bench/recovery_cost.mjs [sockets=200] [events=2000] [rounds=2]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sleep, requireNode, SRC } from '../tests/integration/lib/broker.mjs';
import { startRedis, startClusterBroker, waitValkeyUp, tokenFor, KEY } from '../tests/integration/lib/cluster.mjs';

const N = Number(process.argv[2] || 200);
const EVENTS = Number(process.argv[3] || 2000);
const ROUNDS = Number(process.argv[4] || 2);
const RATE = 500;
const ORG = '00000000-0000-4000-8000-0000000000cc';
const TICK = 100; // USER_HZ
const notepack = requireNode('notepack.io');

// pd_keys_lua_xpub, from its C string literal
function xpubScript() {
  const c = readFileSync(path.join(SRC, 'shared', 'pd_keys.c'), 'utf8');
  const m = /pd_keys_lua_xpub\[\] =([\s\S]*?);\n/.exec(c);
  if (!m) throw new Error('pd_keys_lua_xpub not found in shared/pd_keys.c');
  return [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('')
    .replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
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

async function round(r, rc, recovery, lua) {
  const b = await startClusterBroker(r, { log_level: 'notice', recovery_window: recovery ? 120000 : 0 });
  await waitValkeyUp(b);
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
  await sleep(1500); // sessions persisted
  const rssPer = ((rssKb(b.pid) - rss0) * 1024) / N;
  const stream = `${KEY}:{recovery}:events:/`;
  const ch = `${KEY}#/#org:${ORG}#`;
  const payload = { id: 'm', ticketId: 't', content: 'x'.repeat(200), senderId: 'u', senderName: 'U', senderRole: 'agent', createdAt: '2026-01-01T00:00:00.000Z' };
  const c0 = await calls(rc);
  const t0 = cpuTicks(b.pid);
  const start = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    const msg = notepack.encode(['emitter', { type: 2, data: ['message:new', { ...payload, eventId: i }], nsp: '/' },
      { rooms: [`org:${ORG}`], flags: {}, except: [] }]);
    if (recovery) await rc.sendCommand(['EVAL', lua, '1', stream, msg, ch, '10000']);
    else await rc.sendCommand(['PUBLISH', ch, msg]);
    const wait = start + ((i + 1) * 1000) / RATE - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const deadline = Date.now() + 30000;
  while (got < EVENTS * N && Date.now() < deadline) await sleep(50);
  const ticks = cpuTicks(b.pid) - t0;
  const c1 = await calls(rc);
  const ops = {};
  let total = 0;
  for (const [k, v] of Object.entries(c1)) {
    const d = v - (c0[k] || 0) - (k === 'info' ? 1 : 0);
    if (d > 0) { ops[k] = +(d / EVENTS).toFixed(3); total += d; }
  }
  for (const s of socks) s.disconnect();
  await b.stop();
  return {
    recovery, delivered: got, expected: EVENTS * N, usPerDelivery: +((ticks * 1e6) / TICK / Math.max(got, 1)).toFixed(3),
    valkeyCommandsPerEmit: +(total / EVENTS).toFixed(3), byCommand: ops, rssBytesPerSocket: Math.round(rssPer),
  };
}

const r = await startRedis();
const { createClient } = requireNode('redis');
const rc = createClient({ url: r.url });
await rc.connect();
const lua = xpubScript();
try {
  const res = [];
  for (let k = 0; k < ROUNDS; k++) {
    res.push(await round(r, rc, false, lua));
    res.push(await round(r, rc, true, lua));
  }
  for (const x of res) console.log(JSON.stringify(x));
} finally {
  await rc.quit().catch(() => {});
  await r.stop();
}
