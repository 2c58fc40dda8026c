// Issue 5: brokers on one Valkey act as one server; the adapter wire format
// is shared with @socket.io/redis-emitter and Node servers using
// @socket.io/redis-adapter. Needs the cluster modules wired into the broker.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startClusterBroker, waitValkeyUp, connectClient, seen, until, uid, newOrg, emitter,
  startNodeServer, connectNode, sleep,
} from './lib/cluster.mjs';

const closers = [];
after(async () => { for (const f of closers.reverse()) { try { await f(); } catch { /* */ } } });

let r, b1, b2;
async function setup() {
  if (r) return;
  r = await startRedis();
  closers.push(() => r.stop());
  b1 = await startClusterBroker(r);
  b2 = await startClusterBroker(r);
  closers.push(() => b1.stop(), () => b2.stop());
  await waitValkeyUp(b1);
  await waitValkeyUp(b2);
  await sleep(300); // subscriptions confirmed
}

test('a room emit on one broker reaches the clients of the other', async () => {
  await setup();
  const org = newOrg();
  const watcher = await connectClient(b2, { sub: uid('watcher-1'), org });
  closers.push(() => watcher.close());
  // user:online is emitted by b1 to org:<org> when u-a connects there
  const a = await connectClient(b1, { sub: uid('u-a'), org });
  closers.push(() => a.close());
  await until(() => seen(watcher, 'user:online').includes(uid('u-a')), 5000, 'user:online on the other broker');
  await sleep(500);
  assert.equal(seen(watcher, 'user:online').filter((u) => u === uid('u-a')).length, 1);
});

test('an @socket.io/redis-emitter publish reaches clients on every broker', async () => {
  await setup();
  const org = newOrg();
  const c1 = await connectClient(b1, { sub: uid('e1'), org });
  const c2 = await connectClient(b2, { sub: uid('e2'), org });
  const other = await connectClient(b2, { sub: uid('e3'), org: newOrg() });
  closers.push(() => c1.close(), () => c2.close(), () => other.close());
  const e = await emitter(r);
  closers.push(() => e.close());
  e.to(`org:${org}`).emit('hello', { n: 1 });
  e.to(`user:${uid('e2')}`).emit('direct', 'only-e2');
  e.to(`org:${org}`).except(`user:${uid('e1')}`).emit('except', 'not-e1');
  e.to(`org:${org}`).emit('bin', Buffer.from([1, 2, 3]));
  await until(() => seen(c1, 'hello').length && seen(c2, 'hello').length && seen(c2, 'direct').length
    && seen(c2, 'except').length && seen(c1, 'bin').length && seen(c2, 'bin').length, 5000, 'emitter events');
  await sleep(300);
  assert.deepEqual(seen(c1, 'hello'), [{ n: 1 }]);
  assert.deepEqual(seen(c2, 'hello'), [{ n: 1 }]);
  assert.deepEqual(seen(c1, 'direct'), []);
  assert.deepEqual(seen(c1, 'except'), []);
  assert.deepEqual(seen(other, 'hello'), []);
  assert.deepEqual([...seen(c1, 'bin')[0]], [1, 2, 3]);
});

test('a Node socket.io server with @socket.io/redis-adapter and pushdesk share rooms both ways', async () => {
  await setup();
  const org = newOrg();
  const n = await startNodeServer(r);
  closers.push(() => n.stop());
  const nodeClient = await connectNode(n, [`org:${org}`]);
  const pdClient = await connectClient(b1, { sub: uid('n1'), org });
  closers.push(() => nodeClient.close(), () => pdClient.close());
  await sleep(300);
  // Node -> pushdesk
  n.io.to(`org:${org}`).emit('fromNode', 42);
  await until(() => seen(pdClient, 'fromNode').length, 5000, 'Node room emit on a pushdesk client');
  assert.deepEqual(seen(pdClient, 'fromNode'), [42]);
  // pushdesk -> Node: a second user's user:online goes to org:<org> from b2
  const pd2 = await connectClient(b2, { sub: uid('n2'), org });
  closers.push(() => pd2.close());
  await until(() => seen(nodeClient, 'user:online').includes(uid('n2')), 5000, 'pushdesk room emit on a Node client');
  // the Node server sees pushdesk sockets in its fetchSockets (adapter requests answered)
  const socks = await n.io.in(`org:${org}`).fetchSockets();
  assert.ok(socks.length >= 3, `fetchSockets found ${socks.length}`);
  const rooms = await n.io.of('/').adapter.allRooms();
  assert.ok(rooms.has(`user:${uid('n1')}`), 'allRooms includes a pushdesk room');
});
