// Several brokers on one Valkey behave as one server (contract 1, 3.1):
// two brokers started here (A, B: the stack's pushdesk.conf with
// presence_ttl = lease_ttl = 3 s, their own ports) beside the stack's broker
// (through nginx). Room emits, presence, typing, notifications and API
// changes cross brokers; a broker killed with SIGKILL takes its users offline
// within presence_ttl, once; a Node socket.io server with
// @socket.io/redis-adapter and an @socket.io/redis-emitter share the Valkey;
// clients connected through a Valkey restart get every later event.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  T, world, must, mkTicket, messagesOf, open, close, closeAll, ack, mark, seen, next, nextEntry, quiet,
  assertOkAck, hasKeys, sleep, brokerConfig, confValue, requireNode, env, MESSAGE, presenceConns,
} from './lib/rt.mjs';
import { startBroker } from './lib/broker.mjs';
import { stack } from './lib/pd.mjs';

const PRESENCE_TTL = 3;
const LEASE_TTL = 3;
const KEY = confValue('adapter_key', 'socket.io') || 'socket.io';
const w = world();
const o = world();
let A, B, conf;

before(async () => {
  conf = brokerConfig({ presence_ttl: PRESENCE_TTL, lease_ttl: LEASE_TTL });
  [A, B] = await Promise.all([startBroker({ config: conf }), startBroker({ config: conf })]);
});
after(async () => {
  closeAll();
  await Promise.all([A && A.stop(), B && B.stop()]);
  try { stack('pd_redis_running || pd_start_redis'); } catch { /* reported by the harness */ }
});
afterEach(() => closeAll());

const onA = (u, opts = {}) => open(u, { url: A.url, ...opts });
const onB = (u, opts = {}) => open(u, { url: B.url, ...opts });
const onStack = (u, opts = {}) => open(u, opts); // the stack's broker through nginx

describe('cross-broker', () => {
  test('message:send on A: message:new reaches a member on B; delivered counts a live connection on B', T, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [cs, ag] = await Promise.all([onA(c), onB(w.agent)]);
    assertOkAck(await ack(cs, 'ticket:join', t.id));
    let r = await ack(cs, 'message:send', { ticketId: t.id, content: 'nobody there yet' });
    assertOkAck(r);
    assert.equal(r.delivered, false, 'no other participant connected anywhere');
    assertOkAck(await ack(ag, 'ticket:join', t.id));
    const m = mark(ag);
    r = await ack(cs, 'message:send', { ticketId: t.id, content: 'across brokers' });
    assertOkAck(r);
    assert.equal(r.delivered, true, 'the agent in ticket:<id> is connected to B');
    const e = await next(ag, 'message:new', (x) => x.id === r.message.id, { since: m });
    hasKeys(e, MESSAGE, 'message:new');
    assert.equal(e.content, 'across brokers');
    assert.equal(typeof e.eventId, 'number');
    assert.equal(seen(ag, 'message:new', (x) => x.id === r.message.id, m).length, 1, 'once');
    // the other way round, and the ticket's customer (not in the room) live on A counts
    const ms = mark(cs);
    close(cs);
    const c2 = await onA(c);
    const r2 = await ack(ag, 'message:send', { ticketId: t.id, content: 'back to A' });
    assert.equal(r2.delivered, true, 'the customer is connected to A');
    await sleep(300);
    void ms; void c2;
    assert.ok((await messagesOf(t.id, c)).some((x) => x.id === r2.message.id));
  });

  test('user:online / user:offline: one pair per user with devices on both brokers, seen from every broker', T, async () => {
    const u = w.user('agent');
    const obs = await Promise.all([onA(w.agent), onB(w.agent2), onStack(w.admin)]);
    const ms = obs.map(mark);
    const d1 = await onB(u);
    for (let i = 0; i < obs.length; i++) await next(obs[i], 'user:online', (x) => x === u.id, { since: ms[i] });
    const d2 = await onA(u);
    // presence:sync on A lists a user connected on B only before d2? check with a fresh socket
    const n = await onA(w.user('agent'));
    const sync = await next(n, 'presence:sync');
    assert.ok(Array.isArray(sync) && sync.includes(u.id), `presence:sync on A names the user: ${JSON.stringify(sync)}`);
    // A writes d2's connection after its CONNECT reply: until Valkey holds
    // both, B may see d1 leave as the user's last connection
    await presenceConns(u.id, 2);
    close(d1);
    await sleep(1500);
    for (let i = 0; i < obs.length; i++) {
      assert.equal(seen(obs[i], 'user:offline', (x) => x === u.id, ms[i]).length, 0, `observer ${i}: still connected on A`);
    }
    close(d2);
    for (let i = 0; i < obs.length; i++) await next(obs[i], 'user:offline', (x) => x === u.id, { since: ms[i] });
    await sleep(1000);
    for (let i = 0; i < obs.length; i++) {
      assert.equal(seen(obs[i], 'user:online', (x) => x === u.id, ms[i]).length, 1, `observer ${i}: one user:online`);
      assert.equal(seen(obs[i], 'user:offline', (x) => x === u.id, ms[i]).length, 1, `observer ${i}: one user:offline`);
    }
  });

  test('presence:status on A: presence:update on B; presence:subscribe on B sees a user of A', T, async () => {
    const u = w.user('agent');
    const [s, peer] = await Promise.all([onA(u), onB(w.agent2)]);
    // A writes u's presence after its CONNECT reply: B's presence:list reads
    // Valkey (it once said offline here, 420 ms into the test)
    await presenceConns(u.id, 1);
    const m = mark(peer);
    peer.emit('presence:subscribe', { userIds: [u.id] });
    const list = await next(peer, 'presence:list', () => true, { since: m });
    assert.equal(list.find((x) => x.userId === u.id)?.status, 'online', JSON.stringify(list));
    assertOkAck(await ack(s, 'presence:status', { status: 'away' }));
    await next(peer, 'presence:update', (x) => x.userId === u.id && x.status === 'away', { since: m });
  });

  test('typing across brokers, and its automatic typing:stop', T, async () => {
    const t = await mkTicket(w.customer);
    const [cs, ag] = await Promise.all([onA(w.customer), onB(w.agent)]);
    for (const s of [cs, ag]) assertOkAck(await ack(s, 'ticket:join', t.id));
    const m = mark(ag);
    const t0 = Date.now();
    cs.emit('typing:start', t.id);
    const st = await next(ag, 'typing:start', () => true, { since: m });
    assert.deepEqual({ ...st }, { ticketId: t.id, userId: w.customer.id, userName: w.customer.name });
    const sp = await nextEntry(ag, 'typing:stop', () => true, { since: m, ms: 9000 });
    assert.ok(sp.t - t0 >= 4500 && sp.t - t0 <= 6500, `automatic typing:stop after ${sp.t - t0} ms`);
    const m2 = mark(cs);
    ag.emit('typing:start', t.id);
    await next(cs, 'typing:start', (x) => x.userId === w.agent.id, { since: m2 });
    ag.emit('typing:stop', t.id);
    await next(cs, 'typing:stop', (x) => x.userId === w.agent.id, { since: m2 });
  });

  test('notifications reach every device, on both brokers', T, async () => {
    const u = w.user('customer');
    const [da, db, ds] = await Promise.all([onA(u), onB(u), onStack(u)]);
    const ms = [da, db, ds].map(mark);
    const n = await must(201, 'POST', '/notifications', { userId: u.id, type: 'info', title: 'everywhere' }, w.service);
    for (let i = 0; i < 3; i++) {
      const s = [da, db, ds][i];
      await next(s, 'notification', (x) => x.id === n.id, { since: ms[i] });
      await next(s, 'notification:count', (x) => x.unread === 1, { since: ms[i] });
    }
    const m = mark(db);
    da.emit('notification:markAllRead');
    await next(da, 'notification:count', (x) => x.unread === 0, { since: ms[0] });
    void m;
  });

  test('API changes and POST /emit reach clients on both brokers', T, async () => {
    const t = await mkTicket(w.customer);
    const [ca, ab, ss, fa] = await Promise.all([onA(w.customer), onB(w.agent), onStack(w.admin), onA(o.agent)]);
    const ms = [ca, ab, ss, fa].map(mark);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending', assigneeId: w.agent.id }, w.admin);
    for (let i = 0; i < 3; i++) await next([ca, ab, ss][i], 'ticket:updated', (x) => x.id === t.id && x.status === 'pending', { since: ms[i] });
    await next(ab, 'ticket:assigned', (x) => x.ticketId === t.id, { since: ms[1] });
    const tag = randomUUID();
    await must(202, 'POST', '/emit', { event: 'announce', data: { tag } }, w.admin);
    for (let i = 0; i < 3; i++) await next([ca, ab, ss][i], 'announce', (x) => x.tag === tag, { since: ms[i] });
    await sleep(500);
    for (let i = 0; i < 3; i++) assert.equal(seen([ca, ab, ss][i], 'announce', (x) => x.tag === tag, ms[i]).length, 1, 'once');
    assert.equal(seen(fa, 'announce', () => true, ms[3]).length + seen(fa, 'ticket:updated', () => true, ms[3]).length, 0, 'not to another org');
  });

  test('pushdeskctl emit reaches clients on both brokers', T, async () => {
    const [ca, ab, ss] = await Promise.all([onA(w.customer), onB(w.agent), onStack(w.admin)]);
    const ms = [ca, ab, ss].map(mark);
    const tag = randomUUID();
    const { ctl } = await import('./lib/pd.mjs');
    ctl('emit', '--room', `org:${w.org}`, 'ctl-announce', JSON.stringify({ tag }));
    for (let i = 0; i < 3; i++) await next([ca, ab, ss][i], 'ctl-announce', (x) => x.tag === tag, { since: ms[i] });
  });
});

describe('a broker dies (SIGKILL)', () => {
  test('its users go offline within presence_ttl, each seen at most once; users with another connection stay', T, async (tc) => {
    const C = await startBroker({ config: conf });
    try {
      const x = w.user('agent');
      const y = w.user('agent');
      const [oa, ob] = await Promise.all([onA(w.agent), onB(w.agent2)]);
      const ms = [oa, ob].map(mark);
      await open(x, { url: C.url });
      await open(y, { url: C.url });
      await onA(y);
      for (const [s, m] of [[oa, ms[0]], [ob, ms[1]]]) {
        await next(s, 'user:online', (v) => v === x.id, { since: m });
        await next(s, 'user:online', (v) => v === y.id, { since: m });
      }
      const killed = Date.now();
      await C.stop('SIGKILL');
      const off = await nextEntry(oa, 'user:offline', (v) => v === x.id, { since: ms[0], ms: (PRESENCE_TTL + LEASE_TTL + 6) * 1000 });
      const took = off.t - killed;
      tc.diagnostic(`user:offline ${took} ms after SIGKILL (presence_ttl ${PRESENCE_TTL} s, lease_ttl ${LEASE_TTL} s)`);
      assert.ok(took <= (PRESENCE_TTL + 2) * 1000, `user:offline ${took} ms after the kill (presence_ttl ${PRESENCE_TTL} s)`);
      await next(ob, 'user:offline', (v) => v === x.id, { since: ms[1], ms: 5000 });
      await sleep((PRESENCE_TTL + LEASE_TTL) * 1000);
      for (const [s, m] of [[oa, ms[0]], [ob, ms[1]]]) {
        assert.equal(seen(s, 'user:offline', (v) => v === x.id, m).length, 1, 'one user:offline for the dead broker\'s user');
        assert.equal(seen(s, 'user:offline', (v) => v === y.id, m).length, 0, 'no user:offline for a user still on A');
      }
      const p = await must(200, 'GET', `/presence?userIds=${x.id},${y.id}`, undefined, w.agent);
      const st = Object.fromEntries(p.data.map((e) => [e.userId, e.status]));
      assert.deepEqual(st, { [x.id]: 'offline', [y.id]: 'online' });
      // x comes back on A: online again, once
      const m2 = mark(oa);
      await onA(x);
      await next(oa, 'user:online', (v) => v === x.id, { since: m2 });
      await quiet(oa, 'user:offline', (v) => v === x.id, 500, m2, 'after coming back');
    } finally {
      await C.stop('SIGKILL');
    }
  });
});

describe('mixed cluster: Node socket.io with @socket.io/redis-adapter, @socket.io/redis-emitter', () => {
  test('room emits cross between pushdesk and a Node server; an emitter publish reaches pushdesk clients', T, async () => {
    const { Server } = requireNode('socket.io');
    const { createAdapter } = requireNode('@socket.io/redis-adapter');
    const { Emitter } = requireNode('@socket.io/redis-emitter');
    const { createClient } = requireNode('redis');
    const pub = createClient({ url: env.redisUrl });
    const sub = pub.duplicate();
    const emc = pub.duplicate();
    for (const c of [pub, sub, emc]) c.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect(), emc.connect()]);
    const srv = http.createServer();
    const nio = new Server(srv, { adapter: createAdapter(pub, sub, { key: KEY }) });
    const t = await mkTicket(w.customer);
    nio.on('connection', (s) => {
      for (const r of s.handshake.auth.rooms || []) s.join(r);
      s.on('shout', (room, data) => nio.to(room).emit('from-node', data));
      s.emit('ready');
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const nodeUrl = `http://127.0.0.1:${srv.address().port}`;
    try {
      const nc = await open('node-client', { url: nodeUrl, auth: { rooms: [`ticket:${t.id}`, `org:${w.org}`] } });
      await next(nc, 'ready');
      const [pa, pb] = await Promise.all([onA(w.customer), onB(w.agent)]);
      assertOkAck(await ack(pa, 'ticket:join', t.id));
      // pushdesk -> Node: message:new to ticket:<id> from a message:send on A
      const mn = mark(nc);
      const r = await ack(pa, 'message:send', { ticketId: t.id, content: 'to the node server' });
      assertOkAck(r);
      const got = await next(nc, 'message:new', (x) => x.id === r.message.id, { since: mn });
      assert.equal(got.content, 'to the node server');
      // pushdesk presence:update to org:<org> reaches the Node client too
      assertOkAck(await ack(pb, 'presence:status', { status: 'busy' }));
      await next(nc, 'presence:update', (x) => x.userId === w.agent.id && x.status === 'busy', { since: mn });
      // Node -> pushdesk: a room emit on the Node server
      const ma = mark(pa); const mb = mark(pb);
      nc.emit('shout', `org:${w.org}`, { n: 1 });
      await next(pa, 'from-node', (x) => x.n === 1, { since: ma });
      await next(pb, 'from-node', (x) => x.n === 1, { since: mb });
      nc.emit('shout', `ticket:${t.id}`, { n: 2 });
      await next(pa, 'from-node', (x) => x.n === 2, { since: ma });
      await quiet(pb, 'from-node', (x) => x.n === 2, 500, mb, 'B\'s agent is not in ticket:<id>');
      // an @socket.io/redis-emitter publish
      const em = new Emitter(emc, { key: KEY });
      em.to(`user:${w.agent.id}`).emit('from-emitter', { k: 'v' });
      await next(pb, 'from-emitter', (x) => x.k === 'v', { since: mb });
      em.to(`org:${w.org}`).emit('from-emitter-org', [1, 2]);
      await next(pa, 'from-emitter-org', () => true, { since: ma });
      await next(pb, 'from-emitter-org', () => true, { since: mb });
      await next(nc, 'from-emitter-org', () => true, { since: mn });
      await quiet(pa, 'from-emitter', () => true, 300, ma, 'user:<agent> is not the customer');
    } finally {
      nio.close();
      // quit() lets the adapter's pending UNSUBSCRIBEs finish; disconnect()
      // would reject them as unhandled promises.
      await Promise.allSettled([pub.quit(), sub.quit(), emc.quit()]);
    }
  });
});

describe('Valkey restart', () => {
  test('clients connected through a redis-server stop and start get every later event', T, async (tc) => {
    const t = await mkTicket(w.customer);
    const [ca, ab, ss] = await Promise.all([onA(w.customer), onB(w.agent), onStack(w.admin)]);
    for (const s of [ca, ab]) assertOkAck(await ack(s, 'ticket:join', t.id));
    const all = [ca, ab, ss];
    stack('pd_stop_redis');
    try {
      await sleep(2000);
    } finally {
      stack('pd_start_redis');
    }
    for (const s of all) {
      assert.equal(s.connected, true, 'still connected');
      assert.deepEqual(s.disconnects, []);
    }
    // wait until the brokers have subscribed again: a probe reaches everyone
    const deadline = Date.now() + 20000;
    const ms = all.map(mark);
    for (let n = 0; ; n++) {
      await must(202, 'POST', '/emit', { event: 'probe', data: { n } }, w.admin);
      await sleep(500);
      if (all.every((s, i) => seen(s, 'probe', () => true, ms[i]).length)) {
        tc.diagnostic(`events flow again ${n + 1} probe(s) after redis-server restarted`);
        break;
      }
      assert.ok(Date.now() < deadline, `the brokers did not come back within 20 s: ${all.map((s, i) => seen(s, 'probe', () => true, ms[i]).length)}`);
    }
    // every later event
    const m2 = all.map(mark);
    const tags = [];
    for (let i = 0; i < 5; i++) {
      const tag = `${i}-${randomUUID()}`;
      tags.push(tag);
      await must(202, 'POST', '/emit', { event: 'later', data: { tag } }, w.admin);
    }
    const sent = [];
    for (let i = 0; i < 3; i++) {
      const r = await ack(ca, 'message:send', { ticketId: t.id, content: `after ${i}` });
      assertOkAck(r, 'message:send after the restart');
      sent.push(r.message.id);
      await sleep(250);
    }
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending' }, w.admin);
    for (let i = 0; i < all.length; i++) {
      for (const tag of tags) await next(all[i], 'later', (x) => x.tag === tag, { since: m2[i] });
      await next(all[i], 'ticket:updated', (x) => x.id === t.id && x.status === 'pending', { since: m2[i] });
      assert.deepEqual(seen(all[i], 'later', () => true, m2[i]).map((x) => x.tag), tags, 'in order, once each');
    }
    for (const id of sent) await next(ab, 'message:new', (x) => x.id === id, { since: m2[1] });
    // and presence works again across brokers
    const u = w.user('agent');
    const m3 = mark(ab);
    await onA(u);
    await next(ab, 'user:online', (x) => x === u.id, { since: m3 });
  });
});
