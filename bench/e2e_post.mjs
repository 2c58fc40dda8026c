// Writer for bench/run.sh's end-to-end workload: POST /api/v1/tickets/{id}/messages
// through nginx at a fixed rate (open loop: a write is sent when it is due,
// whether or not the earlier ones were answered), over keep-alive
// connections (fetch). Each message's content carries its send time, so that
// the room members (pd-loadgen) time message:new from it:
// content = {"t": <CLOCK_REALTIME us>, "seq": N}.
//
//   node bench/e2e_post.mjs --http http://127.0.0.1:PORT --ticket ID --token JWT
//        --rate W/S --duration S
//
// Prints {"sent","ok","failed","statuses":{...},"seconds","rate",
// "api_ms":{"count","p50","p90","p99","max","mean"}} when every answer is in
// (or 10 s after the last send).

const o = { http: "", ticket: "", token: "", rate: 200, duration: 10 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === "--http") { o.http = v; i++; }
  else if (a === "--ticket") { o.ticket = v; i++; }
  else if (a === "--token") { o.token = v; i++; }
  else if (a === "--rate") { o.rate = Number(v); i++; }
  else if (a === "--duration") { o.duration = Number(v); i++; }
  else { console.error(`e2e_post.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!/^http:\/\/127\./.test(o.http) || !o.ticket || !o.token ||
    !(o.rate > 0 && o.rate <= 100000) || !(o.duration > 0 && o.duration <= 3600)) {
  console.error("usage: e2e_post.mjs --http http://127.x.x.x:PORT --ticket ID --token JWT --rate R --duration S");
  process.exit(2);
}

const url = `${o.http}/api/v1/tickets/${encodeURIComponent(o.ticket)}/messages`;
const headers = { authorization: `Bearer ${o.token}`, "content-type": "application/json" };
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

const lat = []; // ms, answered writes
const statuses = {};
let sent = 0, ok = 0, failed = 0, pending = 0;

async function one(seq) {
  const t0 = performance.now();
  const body = JSON.stringify({ content: JSON.stringify({ t: nowUs(), seq }) });
  pending++;
  try {
    const res = await fetch(url, { method: "POST", headers, body });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] || 0) + 1;
    if (res.status === 201) {
      ok++;
      lat.push(performance.now() - t0);
    } else failed++;
  } catch (e) {
    statuses[e.cause?.code || e.name] = (statuses[e.cause?.code || e.name] || 0) + 1;
    failed++;
  } finally {
    pending--;
  }
}

const total = Math.floor(o.rate * o.duration);
const start = performance.now();
await new Promise((resolve) => {
  function tick() {
    const due = Math.min(total, Math.floor((o.rate * (performance.now() - start)) / 1000));
    while (sent < due) one(sent++);
    if (sent >= total) return resolve();
    setTimeout(tick, 1);
  }
  tick();
});
const seconds = (performance.now() - start) / 1000;
const giveUp = performance.now() + 10000;
while (pending > 0 && performance.now() < giveUp) await new Promise((r) => setTimeout(r, 10));

lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] : 0);
const r3 = (x) => Number(x.toFixed(3));
console.log(JSON.stringify({
  sent, ok, failed, unanswered: pending, statuses, seconds: r3(seconds), rate: o.rate,
  api_ms: {
    count: lat.length, p50: r3(q(0.5)), p90: r3(q(0.9)), p99: r3(q(0.99)),
    max: r3(lat.length ? lat[lat.length - 1] : 0),
    mean: r3(lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : 0),
  },
}));
process.exit(0);
