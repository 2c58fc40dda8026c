// Seed 004 (the AI-chat dashboard) connects unchanged: contract 7.4,
// dialect `workspace`. Its client, as the seed writes it:
//
//   socket = io(process.env.NEXT_PUBLIC_SOCKET_URL, { auth: { token: accessToken }, transports: ['websocket'] });
//   s.on('handoff_triggered', ...); s.on('credits_updated', ...);
//   the dashboard's listeners: new_message, user_message,
//   conversation_status_changed, agent_status_changed
//   emit('join_conversation', conversationId) / emit('leave_conversation', conversationId)
//
// Its token carries `workspaceId`, not `org`. Its backend emits to
// `ws:<workspaceId>` and `conv:<conversationId>`: here POST /emit,
// pushdeskctl emit and @socket.io/redis-emitter on the stack's Valkey. The
// stack's broker speaks the helpdesk by default: these connections say
// ?dialect=workspace. One broker, then two.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { world, must, call, mkTicket, quiet, env, confValue, requireNode, hasKeys, ack } from './lib/rt.mjs';
import { ctl } from './lib/pd.mjs';
import {
  W, TT, ISO, dialectSocket, openAs, refused, got, errorOf, errorsSince, exactly, closeSeeds,
  mark, seen, sleep, twoBrokers, foreignToken,
} from './lib/seeds.mjs';

const w = world();
const o = world();
const KEY = confValue('adapter_key', 'socket.io') || 'socket.io';
afterEach(() => closeSeeds());

// getSocket(accessToken): the seed's call, its token shape (workspaceId).
function getSocket(user, { url = env.http, role = user.role.toUpperCase(), token } = {}) {
  return openAs(user, 'workspace', { url, token: token ?? foreignToken(user, { role }), transports: ['websocket'] });
}

async function emitter() {
  const { Emitter } = requireNode('@socket.io/redis-emitter');
  const { createClient } = requireNode('redis');
  const c = createClient({ url: env.redisUrl });
  c.on('error', () => {});
  await c.connect();
  const e = new Emitter(c, { key: KEY });
  e.close = () => c.quit().catch(() => {});
  return e;
}

// join_conversation, waiting for its acknowledgement: the join is
// access-checked in the database, so a fixed wait after it was a guess.
async function joinConv(s, id) {
  const m = mark(s);
  const r = await ack(s, 'join_conversation', id);
  assert.deepEqual({ ack: r && r.error ? r : 'ok', errs: seen(s, 'error', () => true, m) }, { ack: 'ok', errs: [] }, `join_conversation ${id}`);
}

describe('seed 004 on one broker (dialect workspace, through nginx)', () => {
  test('handshake: the token in auth.token with workspaceId; MISSING_TOKEN, INVALID_TOKEN (expired included)', TT, async () => {
    await getSocket(w.agent);
    await getSocket(w.admin, { role: 'ADMIN' });
    await getSocket(w.agent, { token: w.agent.token }); // a pushdeskctl token works too
    const s = (token) => dialectSocket(w.agent, 'workspace', { token });
    assert.equal(await refused(s(null), 'no token'), 'MISSING_TOKEN');
    assert.equal(await refused(s('not-a-token'), 'garbage'), 'INVALID_TOKEN');
    assert.equal(await refused(s(foreignToken(w.agent, { role: 'AGENT', ttl: -3600 })), 'expired'), 'INVALID_TOKEN');
    const good = foreignToken(w.agent, { role: 'AGENT' });
    const k = good.length - 10; // a whole character of the signature (the last one holds padding bits)
    const forged = good.slice(0, k) + (good[k] === 'A' ? 'B' : 'A') + good.slice(k + 1);
    assert.equal(await refused(s(forged), 'bad signature'), 'INVALID_TOKEN');
    assert.equal(await refused(s(foreignToken(w.agent, { role: 'PILOT' })), 'unknown role'), 'INVALID_TOKEN');
    // the org claims in order (jwt_org_claims): organizationId alone; org before workspaceId
    const byOrgId = await getSocket(w.agent, { token: foreignToken(w.agent, { role: 'AGENT', orgClaim: 'organizationId' }) });
    const both = await getSocket(w.agent, { token: foreignToken(w.agent, { role: 'AGENT', orgClaim: 'org', extra: { workspaceId: o.org } }) });
    const ms = [byOrgId, both].map(mark);
    const tag = randomUUID();
    await must(202, 'POST', '/emit', { rooms: [`ws:${w.org}`], event: 'credits_updated', data: { tag } }, w.admin);
    await must(202, 'POST', '/emit', { rooms: [`ws:${o.org}`], event: 'credits_updated', data: { tag: 'other' } }, o.admin);
    for (const [i, x] of [[0, byOrgId], [1, both]]) {
      const list = await exactly(x, 'credits_updated', 1, () => true, ms[i], `org claim ${i}`);
      assert.equal(list[0].tag, tag, 'the org the claims name first');
    }
  });

  test('the staff feed: user_message from a customer and new_message from staff reach ws:<org> once each; conversation_status_changed; not to customers or other orgs', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [ag, ad, cust, foreign] = await Promise.all([getSocket(w.agent), getSocket(w.admin), getSocket(c, { role: 'CLIENT' }), getSocket(o.agent)]);
    await joinConv(ad, t.id); // in ws:<org> and conv:<id>: still once
    const ms = [ag, ad, cust, foreign].map(mark);
    const um = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'where is my order?' }, c);
    for (const [i, s] of [[0, ag], [1, ad]]) {
      const [x] = await exactly(s, 'user_message', 1, (y) => y.conversationId === t.id, ms[i], `user_message to staff ${i}`);
      hasKeys(x.message, ['id', 'role', 'content', 'channelType', 'createdAt'], 'user_message.message');
      assert.equal(x.message.id, um.id);
      assert.equal(x.message.role, 'USER');
      assert.equal(x.message.channelType, 'WEB');
      assert.equal(x.message.content, 'where is my order?');
      assert.match(x.message.createdAt, ISO);
    }
    const nm = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'on its way' }, w.agent);
    for (const [i, s] of [[0, ag], [1, ad]]) {
      const [x] = await exactly(s, 'new_message', 1, (y) => y.conversationId === t.id, ms[i], `new_message to staff ${i}`);
      assert.equal(x.message.id, nm.id);
      assert.equal(x.message.role, 'HUMAN_AGENT');
      assert.equal(x.message.content, 'on its way');
      assert.match(x.message.createdAt, ISO);
    }
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'pending' }, w.agent);
    for (const [i, s] of [[0, ag], [1, ad]]) {
      const [x] = await exactly(s, 'conversation_status_changed', 1, (y) => y.conversationId === t.id, ms[i], `status ${i}`);
      assert.equal(x.status, 'PENDING');
      assert.match(x.updatedAt, ISO);
    }
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'resolved' }, w.agent);
    await got(ag, 'conversation_status_changed', (y) => y.conversationId === t.id && y.status === 'RESOLVED', ms[0]);
    // a change that leaves the status as it was is no status change
    await must(200, 'PATCH', `/tickets/${t.id}`, { priority: 'high' }, w.agent);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'resolved' }, w.agent);
    await sleep(500);
    assert.equal(seen(ag, 'conversation_status_changed', (y) => y.conversationId === t.id, ms[0]).length, 2,
      'conversation_status_changed once per status change (pending, resolved), not on a priority change or the same status');
    assert.equal(seen(cust, 'user_message', () => true, ms[2]).length, 0, 'a customer is not staff');
    for (const ev of ['user_message', 'new_message', 'conversation_status_changed']) {
      assert.equal(seen(foreign, ev, () => true, ms[3]).length, 0, `${ev} to another org`);
    }
  });

  test('join_conversation / leave_conversation ID: conv:<id> events; another org\'s or another customer\'s conversation FORBIDDEN; usable afterwards', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const notMine = await mkTicket(w.customer2);
    const foreign = await mkTicket(o.customer);
    const cs = await getSocket(c, { role: 'CLIENT' });
    await joinConv(cs, t.id);
    let m = mark(cs);
    const nm = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'hello customer' }, w.agent);
    const [x] = await exactly(cs, 'new_message', 1, (y) => y.message && y.message.id === nm.id, m, 'conv:<id> member');
    assert.equal(x.conversationId, t.id);
    const m0 = mark(cs);
    const bad = [
      [foreign.id, 'FORBIDDEN'], [notMine.id, 'FORBIDDEN'], [randomUUID(), 'FORBIDDEN'],
      [42, ['BAD_REQUEST', 'FORBIDDEN']], [{ conversationId: 7 }, ['BAD_REQUEST', 'FORBIDDEN']],
      ['z'.repeat(10_000), ['BAD_REQUEST', 'FORBIDDEN']], ['', ['BAD_REQUEST', 'FORBIDDEN']],
    ];
    for (const [id, codes] of bad) {
      const mm = mark(cs);
      cs.emit('join_conversation', id);
      await errorOf(cs, mm, codes, `join_conversation ${JSON.stringify(id).slice(0, 40)}`);
    }
    const mm = mark(cs);
    cs.emit('leave_conversation', 42);
    await errorOf(cs, mm, ['BAD_REQUEST', 'FORBIDDEN'], 'leave_conversation 42');
    assert.equal((await errorsSince(cs, m0)).length, bad.length + 1, 'one error per bad event');
    // nothing of the refused conversations arrives
    await must(201, 'POST', `/tickets/${foreign.id}/messages`, { content: 'other org' }, o.agent);
    await must(201, 'POST', `/tickets/${notMine.id}/messages`, { content: 'other customer' }, w.agent);
    await sleep(1000);
    assert.equal(seen(cs, 'new_message', (y) => y.conversationId !== t.id, m0).length, 0, 'refused conversations stay closed');
    // leave: no more of the conversation
    cs.emit('leave_conversation', t.id);
    await sleep(500);
    m = mark(cs);
    const nm2 = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'gone?' }, w.agent);
    await quiet(cs, 'new_message', (y) => y.message && y.message.id === nm2.id, 1500, m, 'after leave_conversation');
    // usable
    await joinConv(cs, t.id);
    m = mark(cs);
    const nm3 = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'back' }, w.agent);
    await got(cs, 'new_message', (y) => y.message && y.message.id === nm3.id, m);
  });

  test('backend events to ws:<org> and conv:<id> reach the rooms unchanged: POST /emit, pushdeskctl emit, @socket.io/redis-emitter', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const [ag, ad, cust, foreign] = await Promise.all([getSocket(w.agent), getSocket(w.admin), getSocket(c, { role: 'CLIENT' }), getSocket(o.admin)]);
    await joinConv(cust, t.id);
    const ms = [ag, ad, cust, foreign].map(mark);
    const handoff = { conversationId: t.id, handoffId: randomUUID(), trigger: 'LOW_CONFIDENCE', destination: 'HUMAN', summary: 'needs a human', agentId: randomUUID() };
    await must(202, 'POST', '/emit', { rooms: [`ws:${w.org}`], event: 'handoff_triggered', data: handoff }, w.admin);
    const credits = { balance: 990, delta: -10, reason: 'MESSAGE', tag: randomUUID() };
    ctl('emit', '--room', `ws:${w.org}`, 'credits_updated', JSON.stringify(credits));
    const e = await emitter();
    try {
      const status = { agentId: randomUUID(), status: 'INACTIVE' };
      e.to(`ws:${w.org}`).emit('agent_status_changed', status);
      const convEv = { conversationId: t.id, tag: randomUUID() };
      e.to(`conv:${t.id}`).emit('typing_indicator', convEv);
      e.to(`ws:${o.org}`).emit('agent_status_changed', { agentId: 'other-org', status: 'ACTIVE' });
      for (const [i, s] of [[0, ag], [1, ad]]) {
        assert.deepEqual((await exactly(s, 'handoff_triggered', 1, () => true, ms[i], `handoff ${i}`))[0], handoff);
        assert.deepEqual((await exactly(s, 'credits_updated', 1, () => true, ms[i], `credits ${i}`))[0], credits);
        assert.deepEqual((await exactly(s, 'agent_status_changed', 1, () => true, ms[i], `agent status ${i}`))[0], status);
      }
      assert.deepEqual((await exactly(cust, 'typing_indicator', 1, () => true, ms[2], 'conv:<id> emit'))[0], convEv);
      for (const ev of ['handoff_triggered', 'credits_updated', 'agent_status_changed']) {
        assert.equal(seen(cust, ev, () => true, ms[2]).length, 0, `${ev}: a customer is not in ws:<org>`);
      }
      assert.equal(seen(foreign, 'handoff_triggered', () => true, ms[3]).length + seen(foreign, 'credits_updated', () => true, ms[3]).length, 0, 'not to another org');
      assert.deepEqual(await exactly(foreign, 'agent_status_changed', 1, () => true, ms[3], 'the emitter reaches the org it names'), [{ agentId: 'other-org', status: 'ACTIVE' }], 'the emitter reaches the org it names');
      // POST /emit naming another org's ws: room delivers to nobody there
      const mf = mark(foreign);
      const r = await call('POST', '/emit', { rooms: [`ws:${o.org}`], event: 'handoff_triggered', data: { x: 1 } }, w.admin);
      assert.ok([202, 403].includes(r.status), `POST /emit to another org's ws: room: ${r.status} ${r.text}`);
      await quiet(foreign, 'handoff_triggered', () => true, 1500, mf, 'an emit to another org\'s ws: room');
    } finally {
      await e.close();
    }
  });
});

describe('seed 004 across two brokers', () => {
  let br;
  before(async () => { br = await twoBrokers(); });
  after(async () => { closeSeeds(); if (br) await br.stop(); });

  test('staff on A and B get the feed once each: user_message, new_message, status, emitter events; conv:<id> spans brokers', TT, async () => {
    const c = w.user('customer');
    const t = await mkTicket(c);
    const ag = await getSocket(w.agent, { url: br.A.url });
    const ad = await getSocket(w.admin, { url: br.B.url });
    const cust = await getSocket(c, { url: br.A.url, role: 'CLIENT' });
    await joinConv(cust, t.id);
    await joinConv(ad, t.id);
    const ms = [ag, ad, cust].map(mark);
    const um = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'hi' }, c);
    const nm = await must(201, 'POST', `/tickets/${t.id}/messages`, { content: 'hello' }, w.admin);
    await must(200, 'PATCH', `/tickets/${t.id}`, { status: 'closed' }, w.admin);
    for (const [i, s] of [[0, ag], [1, ad]]) {
      await exactly(s, 'user_message', 1, (x) => x.message.id === um.id, ms[i], `user_message ${i}`);
      await exactly(s, 'new_message', 1, (x) => x.message.id === nm.id, ms[i], `new_message ${i}`);
      await exactly(s, 'conversation_status_changed', 1, (x) => x.conversationId === t.id && x.status === 'CLOSED', ms[i], `status ${i}`);
    }
    await exactly(cust, 'new_message', 1, (x) => x.message.id === nm.id, ms[2], 'customer in conv:<id> on A');
    const e = await emitter();
    try {
      const tag = randomUUID();
      e.to(`ws:${w.org}`).emit('handoff_triggered', { tag });
      e.to(`conv:${t.id}`).emit('conv_event', { tag });
      for (const [i, s] of [[0, ag], [1, ad]]) await exactly(s, 'handoff_triggered', 1, (x) => x.tag === tag, ms[i], `emitter ws: ${i}`);
      await exactly(cust, 'conv_event', 1, (x) => x.tag === tag, ms[2], 'emitter conv: on A');
      await exactly(ad, 'conv_event', 1, (x) => x.tag === tag, ms[1], 'emitter conv: on B');
      assert.equal(seen(ag, 'conv_event', () => true, ms[0]).length, 0, 'not in conv:<id>');
    } finally {
      await e.close();
    }
  });
});

void W;
