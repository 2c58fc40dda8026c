// The Node reference server for bench/run.sh: Socket.IO 4.8 with
// @socket.io/redis-adapter, doing the same small work as
// `pushdesk-broker --profile bench` (contract section 6): HS256 check of
// auth.token, the automatic rooms, `join` (acks {ok:true}) and `echo` (acks
// its own arguments).
//
//   node bench/node/server.mjs --port 3000 --jwt-secret S [--redis redis://127.0.0.1:6379]
//                              [--host 127.0.0.1] [--key socket.io]
//
// Modules come from tests/node/node_modules (or $PD_NODE_MODULES).
import { createRequire } from "node:module";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.PD_NODE_MODULES || path.join(here, "..", "..", "tests", "node", "node_modules");
const require = createRequire(path.join(modules, "..", "package.json"));
const { Server } = require("socket.io");

function args(argv) {
  const o = { port: 3000, host: "127.0.0.1", secret: "", redis: "", key: "socket.io" };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--port") { o.port = Number(v); i++; }
    else if (a === "--host") { o.host = v; i++; }
    else if (a === "--jwt-secret") { o.secret = v; i++; }
    else if (a === "--redis") { o.redis = v; i++; }
    else if (a === "--key") { o.key = v; i++; }
    else { console.error(`server.mjs: unknown argument ${a}`); process.exit(2); }
  }
  if (!o.host.startsWith("127.")) { console.error("server.mjs: listen on 127.0.0.0/8 only"); process.exit(2); }
  return o;
}

const opt = args(process.argv);

function b64urlJson(s) {
  return JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
}

// Returns [claims, null] or [null, code] with the contract's codes.
function verify(token) {
  if (typeof token !== "string" || token === "") return [null, "AUTH_TOKEN_MISSING"];
  const parts = token.split(".");
  if (parts.length !== 3) return [null, "AUTH_TOKEN_INVALID"];
  let hdr, claims;
  try {
    hdr = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    return [null, "AUTH_TOKEN_INVALID"];
  }
  if (!hdr || hdr.alg !== "HS256") return [null, "AUTH_TOKEN_INVALID"];
  const want = createHmac("sha256", opt.secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return [null, "AUTH_TOKEN_INVALID"];
  if (typeof claims.exp === "number" && claims.exp < Date.now() / 1000) return [null, "AUTH_TOKEN_EXPIRED"];
  if (!claims.sub || !claims.org || !["customer", "agent", "admin", "service"].includes(claims.role))
    return [null, "AUTH_TOKEN_INVALID"];
  return [claims, null];
}

const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false, cors: { origin: "*" } });

let pubClient, subClient;
if (opt.redis) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  pubClient = createClient({ url: opt.redis });
  subClient = pubClient.duplicate();
  pubClient.on("error", (e) => console.error("server.mjs: redis:", e.message));
  subClient.on("error", (e) => console.error("server.mjs: redis:", e.message));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient, { key: opt.key }));
}

io.use((socket, next) => {
  const [claims, code] = verify(socket.handshake.auth && socket.handshake.auth.token);
  if (code) return next(new Error(code));
  socket.data.claims = claims;
  next();
});

io.on("connection", (socket) => {
  const c = socket.data.claims;
  const rooms = [`user:${c.sub}`, `org:${c.org}`, `role:${c.org}:${c.role}`];
  if (c.role === "agent" || c.role === "admin") rooms.push(`agents:${c.org}`);
  if (c.team) rooms.push(`team:${c.team}`);
  socket.join(rooms);
  socket.on("join", (room, ack) => {
    if (typeof room === "string" && room !== "") socket.join(room);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("echo", (...a) => {
    const ack = typeof a[a.length - 1] === "function" ? a.pop() : null;
    if (ack) ack(...a);
  });
});

httpServer.listen(opt.port, opt.host, 511, () => {
  console.log(`listening ${opt.host}:${httpServer.address().port}`);
});

function shutdown() {
  io.close();
  Promise.allSettled([pubClient?.quit(), subClient?.quit()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
