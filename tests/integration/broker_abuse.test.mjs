// The broker reached directly by a hostile or broken client, over raw TCP
// (node:net): request smuggling shapes (RFC 9112 section 6.3), overlapping
// polling POSTs, slow headers, too many pending connections from one
// address, and the descriptor limit. Each case says what a front end
// cannot be relied on to stop (pushdesk-broker(8), LIMITS).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBroker, writeConfig, sleep } from './lib/broker.mjs';
import { httpReq, eioPath, pollOpen, pollGet } from './lib/rawclient.mjs';

const T = { timeout: 30000 };
const EIO = '/socket.io/';
// normal mode, no database: Engine.IO sessions with the default 25 s ping
// (the protocol-testing profiles' 300 ms would end them mid-test). Their
// POSTs carry Engine.IO pongs ("3"), which any session takes.
const SECRET = 'broker-abuse-test-secret-0123456789abcdef';
const normalBroker = (conf = {}, opts = {}) =>
  startBroker({ config: writeConfig({ jwt_secret: SECRET, ...conf }), ...opts });
const PONGS = '3\x1e3';

// Connects; resolves the socket, with .data (all bytes so far) and .closed.
function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.data = '';
    s.ended = false;
    s.closedP = new Promise((r) => s.on("close", () => { s.ended = true; r(); }));
    s.on('data', (d) => { s.data += d.toString('latin1'); });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Waits until pred(socket) holds; throws after ms.
async function until(s, pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred(s)) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; got ${JSON.stringify(s.data.slice(0, 400))} closed=${s.ended}`);
    await sleep(10);
  }
}

const statuses = (data) => [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

// Sends raw bytes; resolves {statuses, data, closed} once the connection
// closed, or `want` responses came (and 100 ms more), or ms passed.
async function raw(port, bytes, ms = 3000, want = 1) {
  const s = await connect(port);
  s.write(bytes);
  const end = Date.now() + ms;
  while (!s.ended && statuses(s.data).length < want && Date.now() < end) await sleep(10);
  await Promise.race([s.closedP, sleep(100)]);
  const r = { statuses: statuses(s.data), data: s.data, closed: s.ended };
  s.destroy();
  return r;
}

const postHead = (sid, headers) =>
  `POST ${eioPath(EIO, { transport: 'polling', sid })} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n${headers.join('\r\n')}\r\n\r\n`;

describe('message framing of a polling POST (RFC 9112 section 6.3)', () => {
  let echo;
  before(async () => { echo = await normalBroker(); });
  after(async () => { await (echo && echo.stop()); });

  // the smuggled request after the body must never be answered
  const smuggled = `GET ${eioPath(EIO, { transport: 'polling' })} HTTP/1.1\r\nHost: x\r\n\r\n`;

  test('two different Content-Length headers: 400, connection closed, nothing smuggled', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const r = await raw(echo.port, postHead(sid, ['Content-Length: 3', 'Content-Length: 30']) + PONGS + smuggled);
    assert.deepEqual(r.statuses, [400], r.data);
    assert.ok(r.closed, 'the connection is closed after the 400');
    assert.match(r.data, /connection: close/i);
  });

  test('Content-Length with Transfer-Encoding: chunked: 400, connection closed', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    const r = await raw(echo.port, postHead(sid, ['Content-Length: 13', 'Transfer-Encoding: chunked']) +
      '3\r\n' + PONGS + '\r\n0\r\n\r\n' + smuggled);
    assert.deepEqual(r.statuses, [400], r.data);
    assert.ok(r.closed);
  });

  test('a Content-Length that is a list or not a number: 400 (libmicrohttpd refuses these itself)', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    for (const cl of ['3, 3', '3, 30', '+3', '0x3']) {
      const r = await raw(echo.port, postHead(sid, [`Content-Length: ${cl}`]) + PONGS);
      assert.equal(r.statuses[0], 400, `Content-Length: ${cl}: ${r.data}`);
      assert.ok(!r.statuses.includes(200), `Content-Length: ${cl}: ${r.data}`);
    }
  });

  test('a transfer coding other than a lone chunked: 400', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    for (const te of [['Transfer-Encoding: gzip, chunked'], ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], ['Transfer-Encoding: identity']]) {
      const r = await raw(echo.port, postHead(sid, te) + '3\r\n' + PONGS + '\r\n0\r\n\r\n');
      assert.deepEqual(r.statuses, [400], `${te}: ${r.data}`);
    }
  });

  test('well-framed POSTs still pass: chunked alone, a repeated equal Content-Length', T, async () => {
    for (const [hdrs, body] of [
      [['Transfer-Encoding: chunked'], '3\r\n' + PONGS + '\r\n0\r\n\r\n'],
      [['Content-Length: 3', 'Content-Length: 3'], PONGS],
    ]) {
      const { sid } = await pollOpen(echo.port, EIO);
      const r = await raw(echo.port, postHead(sid, hdrs) + body);
      assert.deepEqual(r.statuses, [200], `${hdrs}: ${r.data}`);
      assert.match(r.data, /\r\n\r\nok$/);
      const again = await raw(echo.port, postHead(sid, ['Content-Length: 1']) + '3');
      assert.deepEqual(again.statuses, [200], `${hdrs}: the session lives on: ${again.data}`);
    }
  });
});

describe('overlapping polling POSTs on one session', () => {
  let echo;
  before(async () => { echo = await normalBroker(); });
  after(async () => { await (echo && echo.stop()); });

  test('the second POST gets 400 and ends the session; the first still gets 200', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    // the first POST: headers and half its body, then it waits
    const a = await connect(echo.port);
    a.write(postHead(sid, ['Content-Length: 3']) + PONGS.slice(0, 2));
    await sleep(200);
    const b = await raw(echo.port, postHead(sid, ['Content-Length: 1']) + '3');
    assert.deepEqual(b.statuses, [400], `second POST: ${b.data}`);
    a.write(PONGS.slice(2));
    await until(a, (s) => statuses(s.data).length > 0, 3000, 'first POST answer');
    assert.deepEqual(statuses(a.data), [200], a.data);
    assert.match(a.data, /\r\n\r\nok$/);
    a.destroy();
    const g = await pollGet(echo.port, EIO, sid);
    assert.equal(g.status, 400, `the session is gone: ${g.status} ${g.text}`);
  });

  test('POSTs one after the other on one session are fine', T, async () => {
    const { sid } = await pollOpen(echo.port, EIO);
    for (const m of ['3', PONGS, '3']) {
      const r = await raw(echo.port, postHead(sid, [`Content-Length: ${m.length}`]) + m);
      assert.deepEqual(r.statuses, [200], r.data);
    }
  });
});
