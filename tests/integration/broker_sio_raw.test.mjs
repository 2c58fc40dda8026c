// Socket.IO v5 byte for byte over a raw WebSocket, against
// `pushdesk-broker --profile socketio-conformance`.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, sleep } from './lib/broker.mjs';
import { wsOpen, sioOpen, pollOpen, pollGet, pollPost, SEP } from './lib/rawclient.mjs';

const T = { timeout: 15000 };
const SIO = '/socket.io/';
let b;

before(async () => { b = await startBroker({ profile: 'socketio-conformance' }); });
after(async () => { if (b) await b.stop(); });

function assertConnectReply(pkt, prefix) {
  assert.ok(pkt.startsWith(prefix), `expected ${prefix}{...}, got ${JSON.stringify(pkt)}`);
  const body = JSON.parse(pkt.slice(prefix.length));
  assert.deepEqual(Object.keys(body), ['sid'], `CONNECT reply body: ${pkt}`);
  assert.equal(typeof body.sid, 'string');
  assert.ok(body.sid.length > 0);
  return body.sid;
}

describe('CONNECT', () => {
  test('"40" -> 40{"sid":...} then 42["auth",{}]', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40');
      const sid = assertConnectReply(await ws.nextText(), '40');
      assert.notEqual(sid, ws.open.sid, 'the Socket.IO sid is not the Engine.IO sid');
      assert.equal(await ws.nextText(), '42["auth",{}]');
    } finally { ws.destroy(); }
  });

  test('"40" with an auth payload -> auth echoed', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40{"token":"123","n":[1,{"x":null}]}');
      assertConnectReply(await ws.nextText(), '40');
      assert.equal(await ws.nextText(), '42["auth",{"token":"123","n":[1,{"x":null}]}]');
    } finally { ws.destroy(); }
  });

  test('"40/custom," -> 40/custom,{"sid":...} then 42/custom,["auth",{}]', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40/custom,');
      assertConnectReply(await ws.nextText(), '40/custom,');
      assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
    } finally { ws.destroy(); }
  });

  test('"40/custom,{auth}" -> auth echoed on /custom', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40/custom,{"token":"abc"}');
      assertConnectReply(await ws.nextText(), '40/custom,');
      assert.equal(await ws.nextText(), '42/custom,["auth",{"token":"abc"}]');
    } finally { ws.destroy(); }
  });

  test('unknown namespace -> 44/nope,{"message":"Invalid namespace"}, connection kept', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40/nope,');
      assert.equal(await ws.nextText(), '44/nope,{"message":"Invalid namespace"}');
      // the Engine.IO connection stays usable for other namespaces
      ws.send('40');
      assertConnectReply(await ws.nextText(), '40');
      assert.equal(await ws.nextText(), '42["auth",{}]');
    } finally { ws.destroy(); }
  });

  test('unknown namespace without the trailing comma ("40/random")', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40/random');
      assert.equal(await ws.nextText(), '44/random,{"message":"Invalid namespace"}');
    } finally { ws.destroy(); }
  });

  test('two namespaces on one Engine.IO connection', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('40/custom,');
      assertConnectReply(await ws.nextText(), '40/custom,');
      assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
      ws.send('42["message","main"]');
      assert.equal(await ws.nextText(), '42["message-back","main"]');
    } finally { ws.destroy(); }
  });

  test('CONNECT over polling: "40" POSTed, reply and auth in one GET', T, async () => {
    const { sid } = await pollOpen(b.port, SIO);
    const p = await pollPost(b.port, SIO, sid, '40');
    assert.equal(p.status, 200);
    const got = [];
    while (got.length < 2) {
      const r = await pollGet(b.port, SIO, sid, 3000);
      assert.equal(r.status, 200);
      for (const x of r.text.split(SEP)) {
        if (x === '2') { await pollPost(b.port, SIO, sid, '3'); continue; }
        got.push(x);
      }
    }
    assertConnectReply(got[0], '40');
    assert.equal(got[1], '42["auth",{}]');
  });

  test('connectTimeout: no CONNECT within 1000 ms -> connection closed', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      const t0 = Date.now();
      await ws.waitClose(4000);
      const dt = Date.now() - t0;
      assert.ok(dt >= 700, `closed after only ${dt} ms (connectTimeout is 1000 ms; pings were answered)`);
    } finally { ws.destroy(); }
  });

  test('a connected socket is not closed by connectTimeout', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      await sleep(1600);
      assert.equal(ws.tcpClosed, false);
      ws.send('42["message","still here"]');
      assert.equal(await ws.nextText(), '42["message-back","still here"]');
    } finally { ws.destroy(); }
  });
});

describe('EVENT and ACK', () => {
  test('42["message",...] -> 42["message-back",...]', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await ws.nextText(), '42["message-back",1,"2",{"3":[true]}]');
    } finally { ws.destroy(); }
  });

  test('421["message-with-ack",1,"2",{"3":[true]}] -> 431[1,"2",{"3":[true]}]', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('421["message-with-ack",1,"2",{"3":[true]}]');
      assert.equal(await ws.nextText(), '431[1,"2",{"3":[true]}]');
      ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await ws.nextText(), '43456[1,"2",{"3":[false]}]');
    } finally { ws.destroy(); }
  });

  test('an event on /custom (no handler there) is ignored; the connection goes on', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('40/custom,');
      await ws.nextText(); await ws.nextText();
      ws.send('42/custom,["message","c"]');
      // /custom has no message handler in the profile: nothing comes back, main still works
      ws.send('42["message","m"]');
      assert.equal(await ws.nextText(), '42["message-back","m"]');
    } finally { ws.destroy(); }
  });

  test('unicode and escapes survive byte for byte', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      const pkt = '42["message","é€😀\\u0000\\"\\\\\\n",-1.5e+300,null,[],{}]';
      ws.send(pkt);
      const back = await ws.nextText();
      assert.deepEqual(JSON.parse(back.slice(2)), ['message-back', 'é€😀\u0000"\\\n', -1.5e+300, null, [], {}]);
    } finally { ws.destroy(); }
  });

  test('binary event: 451-["message",{placeholder}] + frame -> 451-["message-back",...] + same bytes', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('451-["message",{"_placeholder":true,"num":0}]');
      ws.send(Buffer.from([1, 2, 3, 0, 255]));
      assert.equal(await ws.nextText(), '451-["message-back",{"_placeholder":true,"num":0}]');
      assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3, 0, 255]));
    } finally { ws.destroy(); }
  });

  test('binary event with two attachments', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      ws.send(Buffer.from([1, 2, 3]));
      ws.send(Buffer.from([4, 5, 6]));
      assert.equal(await ws.nextText(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await ws.nextBinary(), Buffer.from([4, 5, 6]));
    } finally { ws.destroy(); }
  });

  test('binary event with an ack: 452-789["message-with-ack",...] -> 462-789[...]', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      ws.send(Buffer.from([1, 2, 3]));
      ws.send(Buffer.from([4, 5, 6]));
      assert.equal(await ws.nextText(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await ws.nextBinary(), Buffer.from([4, 5, 6]));
    } finally { ws.destroy(); }
  });

  test('binary over polling: attachments as "b"-base64 packets', T, async () => {
    const { sid } = await pollOpen(b.port, SIO);
    await pollPost(b.port, SIO, sid, '40');
    const got = [];
    const drain = async (n) => {
      while (got.length < n) {
        const r = await pollGet(b.port, SIO, sid, 3000);
        assert.equal(r.status, 200);
        for (const x of r.text.split(SEP)) {
          if (x === '2') { await pollPost(b.port, SIO, sid, '3'); continue; }
          got.push(x);
        }
      }
    };
    await drain(2);
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const p = await pollPost(b.port, SIO, sid,
      ['451-["message",{"k":{"_placeholder":true,"num":0}}]', `b${bytes.toString('base64')}`].join(SEP));
    assert.equal(p.status, 200);
    await drain(4);
    assert.equal(got[2], '451-["message-back",{"k":{"_placeholder":true,"num":0}}]');
    assert.equal(got[3][0], 'b');
    assert.deepEqual(Buffer.from(got[3].slice(1), 'base64'), bytes);
  });
});

describe('malformed packets close the Engine.IO connection', () => {
  const bad = [
    ['unknown Socket.IO type "4abc"', '4abc'],
    ['unknown Socket.IO type 7', '47["x"]'],
    ['truncated JSON 42["x"', '42["x"'],
    ['payload not an array 42{}', '42{}'],
    ['payload a string 42"x"', '42"x"'],
    ['event name an object 42[{}]', '42[{}]'],
    ['empty event array 42[]', '42[]'],
    ['invalid ack id 42abc[...]', '42abc["message-with-ack",1]'],
    ['unknown Engine.IO type "99"', '99'],
    ['unknown Engine.IO type "7"', '7'],
  ];
  for (const [name, pkt] of bad) {
    test(name, T, async () => {
      const ws = await sioOpen(b.port);
      try {
        ws.send(pkt);
        await ws.waitClose(3000);
        assert.ok(!ws.queue.some((m) => m.type === 'text' && m.data.startsWith('42["message-back"')), 'nothing echoed');
      } finally { ws.destroy(); }
    });
  }

  test('a binary frame with no pending placeholder packet', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send(Buffer.from([1, 2, 3]));
      await ws.waitClose(3000);
    } finally { ws.destroy(); }
  });

  test('malformed CONNECT "40{bad" before any namespace', T, async () => {
    const ws = await wsOpen(b.port, SIO, { eioPong: true });
    try {
      ws.send('40{bad');
      await ws.waitClose(3000);
    } finally { ws.destroy(); }
  });

  test('after a malformed packet the broker still serves others', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('42["message",1]');
      assert.equal(await ws.nextText(), '42["message-back",1]');
    } finally { ws.destroy(); }
  });
});

describe('DISCONNECT', () => {
  test('"41" on / then an event on / -> the connection is closed, no echo', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('41');
      await sleep(100);
      assert.equal(ws.tcpClosed, false, 'DISCONNECT of a namespace keeps the Engine.IO connection');
      ws.send('42["message","after disconnect"]');
      await ws.waitClose(3000);
      assert.ok(!ws.queue.some((m) => m.data === '42["message-back","after disconnect"]'), 'not echoed after DISCONNECT');
    } finally { ws.destroy(); }
  });

  test('"41" on / keeps the Engine.IO connection: the next packet is a ping', T, async () => {
    const ws = await wsOpen(b.port, SIO);  // answers pings by hand
    try {
      ws.send('40');
      await ws.nextText(); await ws.nextText();
      ws.send('41');
      assert.equal(await ws.nextText(2000), '2');
      ws.send('3');
      // reconnecting to / on the same Engine.IO connection works
      ws.send('40');
      assert.ok((await ws.nextText()).startsWith('40{'));
      assert.equal(await ws.nextText(), '42["auth",{}]');
    } finally { ws.destroy(); }
  });

  test('"40/custom," then "41/custom," : main namespace unaffected', T, async () => {
    const ws = await sioOpen(b.port);
    try {
      ws.send('40/custom,');
      await ws.nextText(); await ws.nextText();
      ws.send('41/custom,');
      ws.send('42["message","message to main namespace"]');
      assert.equal(await ws.nextText(), '42["message-back","message to main namespace"]');
    } finally { ws.destroy(); }
  });
});
