// Engine.IO v4 byte for byte, raw HTTP and raw WebSocket frames, against
// `pushdesk-broker --profile engineio-echo` (path /engine.io/) and
// `--profile socketio-conformance` (path /socket.io/).
// Expectations follow the Engine.IO v4 protocol and its reference server.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, sleep, withTimeout } from './lib/broker.mjs';
import { httpReq, eioPath, pollOpen, pollGet, pollPost, RawWs, wsOpen, SEP } from './lib/rawclient.mjs';

const T = { timeout: 15000 };
const EIO = '/engine.io/';
const SIO = '/socket.io/';
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

let echo;   // engineio-echo broker
let conf;   // socketio-conformance broker

before(async () => {
  [echo, conf] = await Promise.all([
    startBroker({ profile: 'engineio-echo' }),
    startBroker({ profile: 'socketio-conformance' }),
  ]);
});

after(async () => {
  await Promise.all([echo && echo.stop(), conf && conf.stop()]);
});

function assertOpenPacket(open, upgrades) {
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.ok(open.sid.length > 0, 'sid is not empty');
  assert.deepEqual(open.upgrades, upgrades);
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
  assert.equal(open.maxPayload, 1000000);
}

// GETs until `count` packets other than pings ("2") have arrived, answering
// pings with "3" so the session stays up. Returns the packets.
async function pollPackets(port, base, sid, count, ms = 4000) {
  const out = [];
  const deadline = Date.now() + ms;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${out.length} of ${count} packets: ${JSON.stringify(out)}`);
    const r = await pollGet(port, base, sid, ms);
    assert.equal(r.status, 200, `poll GET: ${r.status} ${r.text}`);
    for (const p of r.text.split(SEP)) {
      if (p === '2') { await pollPost(port, base, sid, '3'); continue; }
      out.push(p);
    }
  }
  return out;
}

describe('handshake', () => {
  for (const [name, base] of [['engineio-echo', EIO], ['socketio-conformance', SIO]]) {
    test(`polling handshake: open packet and headers (${name})`, T, async () => {
      const b = base === EIO ? echo : conf;
      const r = await httpReq({ port: b.port, path: eioPath(base, { transport: 'polling' }) });
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'] || '', /^text\/plain\s*;\s*charset=utf-8$/i);
      assert.equal(r.text[0], '0', `starts with the open packet type: ${r.text}`);
      assert.ok(!r.text.includes(SEP), 'the handshake is one packet');
      assertOpenPacket(JSON.parse(r.text.slice(1)), ['websocket']);
    });

    test(`WebSocket direct handshake (no sid): upgrades [] (${name})`, T, async () => {
      const b = base === EIO ? echo : conf;
      const ws = await RawWs.connect(b.port, eioPath(base, { transport: 'websocket' }));
      try {
        assert.equal(ws.status, 101, ws.statusLine);
        assert.equal(ws.acceptOk, true, 'Sec-WebSocket-Accept is correct');
        assert.match(ws.headers.upgrade || '', /^websocket$/i);
        assert.match(ws.headers.connection || '', /upgrade/i);
        const first = await ws.next();
        assert.equal(first.type, 'text');
        assert.equal(first.data[0], '0');
        assertOpenPacket(JSON.parse(first.data.slice(1)), []);
        assert.deepEqual(ws.protocolErrors, []);
      } finally { ws.destroy(); }
    });
  }

  test('two handshakes get different sids', T, async () => {
    const a = await pollOpen(echo.port, EIO);
    const b = await pollOpen(echo.port, EIO);
    assert.notEqual(a.sid, b.sid);
  });
});

describe('handshake errors: 400 with a JSON body {code, message}', () => {
  const cases = [
    ['missing EIO', 'GET', `${EIO}?transport=polling`, 5, 'Unsupported protocol version'],
    ['EIO=abc', 'GET', `${EIO}?EIO=abc&transport=polling`, 5, 'Unsupported protocol version'],
    ['EIO=3', 'GET', `${EIO}?EIO=3&transport=polling`, 5, 'Unsupported protocol version'],
    ['missing transport', 'GET', `${EIO}?EIO=4`, 0, 'Transport unknown'],
    ['transport=abc', 'GET', `${EIO}?EIO=4&transport=abc`, 0, 'Transport unknown'],
    ['unknown sid (GET)', 'GET', `${EIO}?EIO=4&transport=polling&sid=nosuchsid`, 1, 'Session ID unknown'],
    ['unknown sid (POST)', 'POST', `${EIO}?EIO=4&transport=polling&sid=nosuchsid`, 1, 'Session ID unknown'],
    ['POST handshake', 'POST', `${EIO}?EIO=4&transport=polling`, 2, 'Bad handshake method'],
    ['PUT handshake', 'PUT', `${EIO}?EIO=4&transport=polling`, 2, 'Bad handshake method'],
  ];
  for (const [name, method, path, code, message] of cases) {
    test(name, T, async () => {
      const r = await httpReq({ port: echo.port, method, path, body: method === 'GET' ? undefined : '4x' });
      assert.equal(r.status, 400, `${method} ${path} -> ${r.status} ${r.text}`);
      assert.match(r.headers['content-type'] || '', /^application\/json/i);
      assert.deepEqual(JSON.parse(r.text), { code, message });
    });
  }

  test('the same errors on /socket.io/ (socketio-conformance)', T, async () => {
    const r1 = await httpReq({ port: conf.port, path: `${SIO}?transport=polling` });
    assert.equal(r1.status, 400);
    assert.deepEqual(JSON.parse(r1.text), { code: 5, message: 'Unsupported protocol version' });
    const r2 = await httpReq({ port: conf.port, path: `${SIO}?EIO=4&transport=polling&sid=zzz` });
    assert.equal(r2.status, 400);
    assert.deepEqual(JSON.parse(r2.text), { code: 1, message: 'Session ID unknown' });
  });

  test('WebSocket upgrade with an unknown sid is refused with 400, not 101', T, async () => {
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid: 'nosuchsid' }));
    try {
      assert.equal(ws.status, 400, ws.statusLine);
    } finally { ws.destroy(); }
  });

  test('WebSocket without EIO / with EIO=3: no Engine.IO session (400, or closed before any open packet)', T, async () => {
    for (const q of ['transport=websocket', 'EIO=3&transport=websocket', 'EIO=abc&transport=websocket']) {
      const ws = await RawWs.connect(echo.port, `${EIO}?${q}`);
      try {
        if (ws.status === 101) {
          await ws.waitClose(3000);
          assert.ok(!ws.queue.some((m) => m.type === 'text' && m.data[0] === '0'), `${q}: no open packet`);
        } else {
          assert.equal(ws.status, 400, `${q}: ${ws.statusLine}`);
        }
      } finally { ws.destroy(); }
    }
  });

  test('a path outside /engine.io/ is 404', T, async () => {
    const r = await httpReq({ port: echo.port, path: '/nothing-here/?EIO=4&transport=polling' });
    assert.equal(r.status, 404);
  });
});

describe('messages over polling', () => {
  test('one text packet: POST answers "ok", GET returns it echoed', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const p = await pollPost(echo.port, EIO, sid, '4hello');
    assert.equal(p.status, 200);
    assert.equal(p.text, 'ok');
    assert.deepEqual(await pollPackets(echo.port, EIO, sid, 1), ['4hello']);
  });

  test('several \\x1e-separated packets, text and base64 binary, echoed in order', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const body = ['4hello', '4€ünïcödé', 'bAQIDBA==', '4', '4world'].join(SEP);
    const p = await pollPost(echo.port, EIO, sid, body);
    assert.equal(p.status, 200);
    assert.equal(p.text, 'ok');
    const got = await pollPackets(echo.port, EIO, sid, 5);
    assert.deepEqual(got, ['4hello', '4€ünïcödé', 'bAQIDBA==', '4', '4world']);
  });

  test('a pending GET is answered when a POST brings a message', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const t0 = Date.now();
    const pending = pollGet(echo.port, EIO, sid);
    await sleep(50);
    await pollPost(echo.port, EIO, sid, '4late');
    const r = await pending;
    assert.equal(r.status, 200);
    const pk = r.text.split(SEP).filter((x) => x !== '2');
    assert.deepEqual(pk, ['4late']);
    assert.ok(Date.now() - t0 < 1000, 'answered promptly');
  });

  test('binary sent over polling comes back as "b" + base64 to a polling client', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const bytes = Buffer.from([0, 255, 1, 254, 10, 13, 0x1e]);
    await pollPost(echo.port, EIO, sid, `b${bytes.toString('base64')}`);
    const [pk] = await pollPackets(echo.port, EIO, sid, 1);
    assert.equal(pk[0], 'b');
    assert.deepEqual(Buffer.from(pk.slice(1), 'base64'), bytes);
  });

  test('invalid packet in a POST closes the session', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    let r = null;
    try { r = await pollPost(echo.port, EIO, sid, 'abc'); } catch { /* the connection may be closed abruptly */ }
    if (r) assert.equal(r.status, 400, `POST of an invalid packet: ${r.status} ${r.text}`);
    const g = await pollGet(echo.port, EIO, sid);
    assert.equal(g.status, 400, `GET after the session was closed: ${g.status} ${JSON.stringify(g.text)}`);
  });

  test('duplicate GET closes the session', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const first = pollGet(echo.port, EIO, sid);
    await sleep(50);
    const second = await pollGet(echo.port, EIO, sid);
    assert.ok([400, 500].includes(second.status), `second GET: ${second.status}`);
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.ok(['1', '6'].includes(r1.text), `first GET ended with close or noop: ${JSON.stringify(r1.text)}`);
    const r3 = await pollGet(echo.port, EIO, sid);
    assert.equal(r3.status, 400);
  });

  test('POST body over maxPayload -> 413', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    let status;
    try {
      const r = await pollPost(echo.port, EIO, sid, `4${'a'.repeat(1000001)}`, {}, 10000);
      status = r.status;
    } catch (e) {
      assert.fail(`no HTTP answer to an oversized POST: ${e.message}`);
    }
    assert.equal(status, 413);
  });
});

describe('messages over WebSocket', () => {
  test('text packet echoed', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.send('4hello');
      assert.equal(await ws.nextText(), '4hello');
      ws.send('4€ – ünïcödé');
      assert.equal(await ws.nextText(), '4€ – ünïcödé');
    } finally { ws.destroy(); }
  });

  test('binary frame echoed as a binary frame, same bytes', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      const bytes = Buffer.from([1, 2, 3, 4, 0, 255]);
      ws.send(bytes);
      const m = await ws.next();
      assert.equal(m.type, 'binary');
      assert.deepEqual(m.data, bytes);
      const big = Buffer.alloc(70000, 7);    // 64-bit length field
      ws.send(big);
      assert.deepEqual(await ws.nextBinary(), big);
    } finally { ws.destroy(); }
  });

  test('fragmented text message is reassembled (with a ping in between)', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.sendFrame(1, Buffer.from('4hel'), { fin: false });
      ws.sendFrame(9, Buffer.from('mid'));
      ws.sendFrame(0, Buffer.from('lo '), { fin: false });
      ws.sendFrame(0, Buffer.from('world'), { fin: true });
      assert.equal(await ws.nextText(), '4hello world');
      assert.deepEqual(await ws.nextPong(), Buffer.from('mid'));
    } finally { ws.destroy(); }
  });

  test('ping control frame answered by a pong with the same payload', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.sendFrame(9, Buffer.from('are you there?'));
      assert.deepEqual(await ws.nextPong(), Buffer.from('are you there?'));
      ws.send('4still');
      assert.equal(await ws.nextText(), '4still');
    } finally { ws.destroy(); }
  });

  test('unmasked client frame -> closed with 1002', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.sendFrame(1, Buffer.from('4unmasked'), { mask: false });
      const c = await ws.waitClose(5000);
      assert.equal(c.code, 1002, `close frame ${JSON.stringify(ws.closeFrame)}`);
      assert.ok(!ws.queue.some((m) => m.data === '4unmasked'), 'the unmasked frame was not echoed');
    } finally { ws.destroy(); }
  });

  test('invalid UTF-8 in a text frame -> closed with 1007', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.sendFrame(1, Buffer.from([0x34, 0x61, 0xc3, 0x28, 0xff]));
      const c = await ws.waitClose(5000);
      assert.equal(c.code, 1007, `close frame ${JSON.stringify(ws.closeFrame)}`);
    } finally { ws.destroy(); }
  });

  test('reserved bits set without an extension -> closed with 1002', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.sendFrame(1, Buffer.from('4rsv'), { rsv: 4 });
      const c = await ws.waitClose(5000);
      assert.equal(c.code, 1002, `close frame ${JSON.stringify(ws.closeFrame)}`);
    } finally { ws.destroy(); }
  });

  test('message over maxPayload -> connection closed', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.send(`4${'x'.repeat(1000001)}`);
      await ws.waitClose(8000);
      assert.ok(!ws.queue.some((m) => m.type === 'text' && m.data.length > 1000000), 'not echoed');
      if (ws.closeFrame) assert.equal(ws.closeFrame.code, 1009, `close code ${ws.closeFrame.code}`);
    } finally { ws.destroy(); }
  });

  test('a message just under maxPayload is echoed whole', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      const s = `4${'y'.repeat(999000)}`;
      ws.send(s);
      const got = await ws.nextText(8000);
      assert.equal(got.length, s.length);
      assert.equal(got, s);
    } finally { ws.destroy(); }
  });

  test('invalid Engine.IO packet closes the connection', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.send('abc');
      await ws.waitClose(5000);
    } finally { ws.destroy(); }
  });

  test('close packet "1" closes the connection', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.send('1');
      await ws.waitClose(3000);
    } finally { ws.destroy(); }
  });

  test('WebSocket close frame is answered with a close frame', T, async () => {
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.close(1000);
      await ws.waitClose(3000);
      assert.ok(ws.closeFrame, 'server sent a close frame back');
      assert.equal(ws.closeFrame.code, 1000);
    } finally { ws.destroy(); }
  });
});

describe('heartbeat', () => {
  test('polling: server pings "2" after pingInterval, pongs keep the session', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await pollGet(echo.port, EIO, sid, 3000);
      assert.equal(r.status, 200);
      assert.equal(r.text, '2', `poll ${i}`);
      const dt = Date.now() - t0;
      assert.ok(dt < PING_INTERVAL + 400, `ping came after ${dt} ms`);
      const p = await pollPost(echo.port, EIO, sid, '3');
      assert.equal(p.status, 200);
    }
    await pollPost(echo.port, EIO, sid, '4alive');
    assert.deepEqual(await pollPackets(echo.port, EIO, sid, 1), ['4alive']);
  });

  test('polling: no pong within pingTimeout -> session closed, then 400', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const r = await pollGet(echo.port, EIO, sid, 3000);
    assert.equal(r.text, '2');
    await sleep(PING_TIMEOUT + 400);
    const g = await pollGet(echo.port, EIO, sid, 3000);
    assert.equal(g.status, 400, `after ping timeout: ${g.status} ${g.text}`);
    assert.deepEqual(JSON.parse(g.text), { code: 1, message: 'Session ID unknown' });
  });

  test('polling: a session never polled is closed after pingInterval + pingTimeout', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    await sleep(PING_INTERVAL + PING_TIMEOUT + 500);
    const p = await pollPost(echo.port, EIO, sid, '3');
    assert.equal(p.status, 400);
  });

  test('WebSocket: pings "2" answered with "3" keep the connection open', T, async () => {
    const ws = await wsOpen(echo.port, EIO);
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(await ws.nextText(2000), '2');
        ws.send('3');
      }
      ws.send('4ok');
      assert.equal(await ws.nextText(2000), '4ok');
    } finally { ws.destroy(); }
  });

  test('WebSocket: no pong -> connection closed after pingInterval + pingTimeout', T, async () => {
    const ws = await wsOpen(echo.port, EIO);
    try {
      const t0 = Date.now();
      assert.equal(await ws.nextText(2000), '2');
      await ws.waitClose(PING_TIMEOUT + 1500);
      const dt = Date.now() - t0;
      assert.ok(dt >= PING_TIMEOUT - 50, `closed only ${dt} ms after the ping`);
    } finally { ws.destroy(); }
  });

  test('client ping "2" is not part of v4 (server pings); a "3" from the client is fine', T, async () => {
    // EIO v4: the server sends pings; an unsolicited pong must not kill the session.
    const ws = await wsOpen(echo.port, EIO, { eioPong: true });
    try {
      ws.send('3');
      ws.send('4after-pong');
      assert.equal(await ws.nextText(), '4after-pong');
    } finally { ws.destroy(); }
  });
});

describe('close', () => {
  test('polling: POST "1" ends the pending GET and the session', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const pending = pollGet(echo.port, EIO, sid);
    await sleep(50);
    const p = await pollPost(echo.port, EIO, sid, '1');
    assert.equal(p.status, 200);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.ok(['6', '1'].includes(r.text), `pending GET ended with ${JSON.stringify(r.text)}`);
    const g = await pollGet(echo.port, EIO, sid);
    assert.equal(g.status, 400);
  });
});

describe('upgrade polling -> websocket', () => {
  test('2probe/3probe, pending GET answered "6", "5", then messages over WS', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const pending = pollGet(echo.port, EIO, sid, 3000);
    await sleep(20);
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }), { eioPong: true });
    try {
      assert.equal(ws.status, 101, ws.statusLine);
      ws.send('2probe');
      assert.equal(await ws.nextText(), '3probe');
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(r.text, '6', 'the pending GET is ended with a noop');
      ws.send('5');
      ws.send('4hello');
      assert.equal(await ws.nextText(), '4hello');
      ws.send(Buffer.from([9, 8, 7]));
      assert.deepEqual(await ws.nextBinary(), Buffer.from([9, 8, 7]));
      // polling with that sid is now refused
      const g = await pollGet(echo.port, EIO, sid);
      assert.equal(g.status, 400);
      // and a second WebSocket with the same sid is opened and closed at
      // once, as engine.io does (broker_http.test.mjs has the details)
      const ws2 = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }));
      try {
        assert.equal(ws2.status, 101, ws2.statusLine);
        await ws2.waitClose(3000);
      } finally { ws2.destroy(); }
      // the upgraded session still works
      ws.send('4after');
      assert.equal(await ws.nextText(), '4after');
    } finally { ws.destroy(); }
  });

  test('messages POSTed before "5" are not lost', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const ws = await RawWs.connect(echo.port, eioPath(EIO, { transport: 'websocket', sid }), { eioPong: true });
    try {
      ws.send('2probe');
      assert.equal(await ws.nextText(), '3probe');
      await pollPost(echo.port, EIO, sid, '4before-upgrade');
      // the echo goes out on polling (the GET) or, after "5", on the WebSocket
      const g = await pollGet(echo.port, EIO, sid, 2000);
      const viaPoll = g.text.split(SEP).filter((x) => x !== '6' && x !== '2');
      ws.send('5');
      if (viaPoll.length === 0) assert.equal(await ws.nextText(), '4before-upgrade');
      else assert.deepEqual(viaPoll, ['4before-upgrade']);
    } finally { ws.destroy(); }
  });
});

describe('CORS (socketio-conformance, cors "*")', () => {
  test('GET with an Origin gets Access-Control-Allow-Origin', T, async () => {
    const origin = 'http://example.test:1234';
    const r = await httpReq({ port: conf.port, path: eioPath(SIO, { transport: 'polling' }), headers: { Origin: origin } });
    assert.equal(r.status, 200);
    const acao = r.headers['access-control-allow-origin'];
    assert.ok(acao === '*' || acao === origin, `Access-Control-Allow-Origin: ${acao}`);
    if (r.headers['access-control-allow-credentials'] === 'true') {
      assert.equal(acao, origin, 'with credentials the origin must be reflected, not "*"');
    }
  });

  test('OPTIONS preflight', T, async () => {
    const origin = 'http://example.test:1234';
    const r = await httpReq({
      port: conf.port, method: 'OPTIONS', path: eioPath(SIO, { transport: 'polling' }),
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.ok([200, 204].includes(r.status), `preflight status ${r.status}`);
    const acao = r.headers['access-control-allow-origin'];
    assert.ok(acao === '*' || acao === origin, `Access-Control-Allow-Origin: ${acao}`);
    const methods = (r.headers['access-control-allow-methods'] || '').toUpperCase();
    assert.ok(methods === '*' || /\bPOST\b/.test(methods), `Access-Control-Allow-Methods: ${methods}`);
    const allowH = (r.headers['access-control-allow-headers'] || '').toLowerCase();
    assert.ok(allowH === '*' || allowH.includes('content-type'), `Access-Control-Allow-Headers: ${allowH}`);
  });

  test('POST with an Origin gets Access-Control-Allow-Origin too', T, async () => {
    const origin = 'http://example.test:1234';
    const { sid } = await pollOpen(conf.port, SIO);
    const r = await pollPost(conf.port, SIO, sid, '40', { Origin: origin });
    assert.equal(r.status, 200);
    const acao = r.headers['access-control-allow-origin'];
    assert.ok(acao === '*' || acao === origin, `Access-Control-Allow-Origin: ${acao}`);
  });
});

test('the broker survives all of the above and still answers a handshake', T, async () => {
  const { open } = await withTimeout(pollOpen(echo.port, EIO), 3000, 'handshake');
  assert.ok(open.sid);
  assert.equal(echo.exited, null, `engineio-echo broker exited: ${JSON.stringify(echo.exited)}\n${echo.log.slice(-2000)}`);
  assert.equal(conf.exited, null, `socketio-conformance broker exited: ${JSON.stringify(conf.exited)}\n${conf.log.slice(-2000)}`);
});
