// Room fan-out with members split across dialects vs one dialect, same run
// (issue 11): one broker (2 loops) on a redis-server of its own, N sockets of
// one org, an @socket.io/redis-emitter publishing EVENTS message:new events to
// org:<org> at a fixed rate. Run A: every socket speaks helpdesk. Run B: a
// third each helpdesk, presence (message:new -> new_message, a second
// encoding per emit) and rooms (the helpdesk bytes). Reported: the broker's
// CPU (utime+stime from /proc) per delivered event, and the ratio B/A.
//   PD_BUILD=build node bench/dialect_fanout.mjs [sockets=300] [events=2000] [rounds=3]
import { readFileSync } from 'node:fs';
import { sleep, requireNode } from '../tests/integration/lib/broker.mjs';
import {
  startRedis, startClusterBroker, waitValkeyUp, tokenFor, KEY,
} from '../tests/integration/lib/cluster.mjs';

const N = Number(process.argv[2] || 300);
const EVENTS = Number(process.argv[3] || 2000);
const RATE = 500; // events per second
const ROUNDS = Number(process.argv[4] || 3);
const ORG = '00000000-0000-4000-8000-0000000000bb';
const TICK = 100; // USER_HZ (getconf CLK_TCK) on Linux

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime
}

async function run(broker, dialects, em) {
  const socks = [];
  let got = 0;
  const { io } = requireNode('socket.io-client');
  for (let i = 0; i < N; i++) {
    const d = dialects[i % dialects.length];
    const sub = `00000000-0000-4000-8000-${String(2000 + i).padStart(12, '0')}`;
    const s = io(broker.url, {
      auth: { token: tokenFor({ sub, org: ORG }) }, query: { dialect: d }, transports: ['websocket'],
      reconnection: false, forceNew: true,
    });
    s.on('message:new', () => { got++; });
    s.on('new_message', () => { got++; });
    await new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); });
    socks.push(s);
  }
  await sleep(500);
  const payload = { id: 'm', ticketId: 't', content: 'x'.repeat(200), senderId: 'u', senderName: 'U', senderRole: 'agent', createdAt: '2026-01-01T00:00:00.000Z' };
  const t0 = cpuTicks(broker.pid);
  const start = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    em.to(`org:${ORG}`).emit('message:new', { ...payload, eventId: i });
    const due = start + ((i + 1) * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const deadline = Date.now() + 30000;
  while (got < EVENTS * N && Date.now() < deadline) await sleep(50);
  const ticks = cpuTicks(broker.pid) - t0;
  for (const s of socks) s.disconnect();
  await sleep(500);
  return { dialects: dialects.join('+'), delivered: got, expected: EVENTS * N, cpuMs: (ticks * 1000) / TICK, usPerDelivery: (ticks * 1e6) / TICK / Math.max(got, 1) };
}

const r = await startRedis();
const b = await startClusterBroker(r, { broker_threads: 2, log_level: 'notice' });
await waitValkeyUp(b);
const { Emitter } = requireNode('@socket.io/redis-emitter');
const { createClient } = requireNode('redis');
const rc = createClient({ url: r.url });
await rc.connect();
const em = new Emitter(rc, { key: KEY });
try {
  // alternated, so that a change of the machine's load hits both alike
  const ones = [], threes = [];
  for (let k = 0; k < ROUNDS; k++) {
    ones.push(await run(b, ['helpdesk'], em));
    threes.push(await run(b, ['helpdesk', 'presence', 'rooms'], em));
  }
  for (const x of [...ones, ...threes]) console.log(JSON.stringify(x));
  const sum = (l, f) => l.reduce((a, x) => a + f(x), 0);
  const per = (l) => sum(l, (x) => x.cpuMs) * 1000 / sum(l, (x) => x.delivered);
  console.log(`us per delivery: one dialect ${per(ones).toFixed(3)}, three dialects ${per(threes).toFixed(3)}; ratio ${(per(threes) / per(ones)).toFixed(3)}`);
} finally {
  await rc.quit().catch(() => {});
  await b.stop();
  await r.stop();
}
