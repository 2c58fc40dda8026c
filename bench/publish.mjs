// Publisher for bench/run.sh: emits `bench` events through
// @socket.io/redis-emitter (msgpack [uid, packet, opts] on `socket.io#/#` or
// `socket.io#/#<room>#`), so that pushdesk-broker's Valkey adapter and the
// Node redis adapter receive exactly the same bytes. Each event carries its
// send time: ["bench", {"t": <CLOCK_REALTIME us>, "seq": N}].
//
//   node bench/publish.mjs --redis redis://127.0.0.1:PORT --rate EV/S --duration S
//        [--rooms K] [--room-pattern room-%d] [--broadcast] [--key socket.io]
//
// Events go round-robin to room-0 .. room-(K-1), or to everyone with
// --broadcast. Prints {"published":N,"seconds":S,"rate":R} when done.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.PD_NODE_MODULES || path.join(here, "..", "tests", "node", "node_modules");
const require = createRequire(path.join(modules, "..", "package.json"));
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const o = { redis: "", rate: 10, duration: 5, rooms: 0, pattern: "room-%d", broadcast: false, key: "socket.io" };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === "--redis") { o.redis = v; i++; }
  else if (a === "--rate") { o.rate = Number(v); i++; }
  else if (a === "--duration") { o.duration = Number(v); i++; }
  else if (a === "--rooms") { o.rooms = Number(v); i++; }
  else if (a === "--room-pattern") { o.pattern = v; i++; }
  else if (a === "--key") { o.key = v; i++; }
  else if (a === "--broadcast") { o.broadcast = true; }
  else { console.error(`publish.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!o.redis || !(o.rate > 0 && o.rate <= 1e6) || !(o.duration > 0 && o.duration <= 3600) ||
    (!o.broadcast && !(o.rooms > 0))) {
  console.error("usage: publish.mjs --redis URL --rate R --duration S (--rooms K | --broadcast)");
  process.exit(2);
}
if (!/^redis:\/\/127\./.test(o.redis)) { console.error("publish.mjs: 127.0.0.0/8 only"); process.exit(2); }

const client = createClient({ url: o.redis });
client.on("error", (e) => console.error("publish.mjs: redis:", e.message));
await client.connect();
const emitter = new Emitter(client, { key: o.key });

// microseconds of CLOCK_REALTIME: timeOrigin is wall time, now() monotonic since
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const rooms = [];
for (let k = 0; k < o.rooms; k++) rooms.push(o.pattern.replace("%d", String(k)));

let seq = 0;
const start = performance.now();
const endAt = start + o.duration * 1000;
await new Promise((resolve) => {
  function tick() {
    const now = performance.now();
    const due = Math.min(Math.floor((o.rate * (now - start)) / 1000), Math.floor(o.rate * o.duration));
    // bounded batch per tick so that the loop yields to the redis client
    for (let n = 0; seq < due && n < 5000; n++, seq++) {
      const payload = { t: nowUs(), seq };
      if (o.broadcast) emitter.emit("bench", payload);
      else emitter.to(rooms[seq % rooms.length]).emit("bench", payload);
    }
    if (now >= endAt && seq >= Math.floor(o.rate * o.duration)) return resolve();
    if (now > endAt + 10000) return resolve(); // bounded even when behind
    setTimeout(tick, 1);
  }
  tick();
});
const seconds = (performance.now() - start) / 1000;
await client.quit();
console.log(JSON.stringify({ published: seq, seconds: Number(seconds.toFixed(3)), rate: o.rate, rooms: o.rooms, broadcast: o.broadcast }));
