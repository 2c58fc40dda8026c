// Issue 13's failback scenario, the same behind nginx and behind Apache:
// polling-only clients on broker B, B killed with kill -9, its clients
// reconnect through the front end to A, B comes back on the same port with
// the same broker_route, and the clients that moved stay on A: none is
// disconnected a second time ("Session ID unknown" from the restarted B),
// each keeps its session; new sessions reach B again, and events cross
// between A and the restarted B.
//
//   await killAndRestart(tc, {
//     w,                            // world() of rt.mjs
//     B, restartB,                  // broker B (startBroker) and () => new B
//     openOn(which, user, opts),    // a connected client whose session is on 'A'/'B'
//     brokerOf(s),                  // 'A' | 'B' | null: where s's session is now
//     movers: 6,                    // clients on B before the kill
//     settleMs,                     // how long the moved clients keep polling after B is back
//   });
import assert from 'node:assert/strict';
import { mkTicket, ack, mark, next, seen, assertOkAck, close, sleep } from './rt.mjs';
import { waitFor } from './pd.mjs';

export const POLLING = { transports: ['polling'], reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 1000 };

// A message from `from` reaches every socket of `to` (all joined to ticket t).
async function crosses(t, from, to, text) {
  const ms = to.map(mark);
  const r = await ack(from, 'message:send', { ticketId: t.id, content: text });
  assertOkAck(r, text);
  await Promise.all(to.map((s, i) => next(s, 'message:new', (x) => x.id === r.message.id, { since: ms[i], ms: 10_000 })));
}

export async function killAndRestart(tc, o) {
  const { w, openOn, brokerOf } = o;
  const t = await mkTicket(w.customer);
  // Users first: making one blocks the event loop (and the clients' timers).
  const users = Array.from({ length: (o.movers || 6) + 1 }, () => w.user('agent'));
  const obs = await openOn('A', w.agent2, POLLING);
  const movers = [];
  for (let i = 0; i < (o.movers || 6); i++) movers.push(await openOn('B', users[i], POLLING));
  for (const s of [obs, ...movers]) {
    assert.deepEqual(s.io.opts.transports, ['polling']);
    assertOkAck(await ack(s, 'ticket:join', t.id));
  }
  assert.equal(brokerOf(obs), 'A');
  for (const s of movers) assert.equal(brokerOf(s), 'B', `mover ${s.io.engine.id} on B`);
  // cross-broker delivery before the kill, both ways
  await crosses(t, movers[0], [obs], 'from B to A');
  await crosses(t, obs, movers, 'from A to B');

  const connects = new Map(movers.map((s) => [s, 0]));
  for (const s of movers) s.on('connect', () => connects.set(s, connects.get(s) + 1));
  const killed = Date.now();
  await o.B.stop('SIGKILL');

  await waitFor(() => movers.every((s) => connects.get(s) >= 1 && s.connected),
    { timeout: 20_000, what: 'the clients of B to reconnect through the front end' });
  tc.diagnostic(`the ${movers.length} clients of B reconnected ${Date.now() - killed} ms after the SIGKILL`);
  const moved = new Map();
  for (const s of movers) {
    assert.equal(brokerOf(s), 'A', `moved session ${s.io.engine.id} on A`);
    assert.equal(s.disconnects.length, 1, `one disconnect at the kill: ${JSON.stringify(s.disconnects)}`);
    assert.equal(s.io.engine.transport.name, 'polling');
    moved.set(s, s.io.engine.id);
    assertOkAck(await ack(s, 'ticket:join', t.id));
  }
  await crosses(t, obs, movers, 'after the failover');

  // B comes back on its port, with its route.
  const B2 = await o.restartB();
  const back = Date.now();
  // New sessions reach B again (the front end has noticed it is back).
  let fresh = null;
  await waitFor(async () => {
    fresh = await openOn('B', users[users.length - 1], { ...POLLING, reconnection: false }).catch(() => null);
    return fresh;
  }, { timeout: 30_000, interval: 500, what: 'a new session to land on the restarted B' });
  tc.diagnostic(`a new session reached the restarted B ${Date.now() - back} ms after its start`);
  assertOkAck(await ack(fresh, 'ticket:join', t.id));

  // The moved clients go on polling (several ping intervals: every request
  // carries its sid) and sending, through the front end, while B is up.
  const until = Date.now() + (o.settleMs || 8000);
  let round = 0;
  while (Date.now() < until) {
    for (const s of movers) assertOkAck(await ack(s, 'presence:ping'), `mover ping, round ${round}`);
    round++;
    await sleep(500);
  }
  await crosses(t, movers[0], [fresh, obs], 'from a moved client to the restarted B');
  await crosses(t, fresh, movers, 'from the restarted B to the moved clients');
  for (const s of movers) {
    assert.equal(s.connected, true, `moved client ${moved.get(s)} still connected`);
    assert.deepEqual(s.disconnects.length, 1,
      `moved client ${moved.get(s)}: no second disconnect after B came back: ${JSON.stringify(s.disconnects)}`);
    assert.equal(connects.get(s), 1, `moved client ${moved.get(s)} connected once after the kill`);
    assert.equal(s.io.engine.id, moved.get(s), 'the same session as after the move');
    assert.equal(brokerOf(s), 'A');
  }
  assert.equal(seen(obs, 'message:new').length >= 3, true);
  close(fresh);
  return B2;
}
