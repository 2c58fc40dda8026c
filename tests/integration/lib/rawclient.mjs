// Raw Engine.IO clients on node:net / node:http: every byte on the wire is
// the test's, so that protocol details can be checked exactly.
//
//   httpReq({ port, method, path, headers, body })  -> { status, headers, body, text }
//   pollOpen(port, base)                            -> { sid, open, res }
//   RawWs.connect(port, path, opts)                 -> a WebSocket client whose frames
//                                                     are built and parsed here

import net from 'node:net';
import http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';

export const SEP = '\x1e';

// One HTTP request, no keep-alive; bounded by timeout (ms).
export function httpReq({ port, host = '127.0.0.1', method = 'GET', path, headers = {}, body, timeout = 5000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(t);
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
      res.on('error', (e) => { clearTimeout(t); reject(e); });
    });
    const t = setTimeout(() => { req.destroy(new Error(`HTTP ${method} ${path}: no answer within ${timeout} ms`)); }, timeout);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export const eioPath = (base, q) => `${base}?${new URLSearchParams({ EIO: '4', ...q }).toString()}`;

// Polling handshake; asserts nothing, returns the decoded open packet.
export async function pollOpen(port, base = '/engine.io/', headers = {}) {
  const res = await httpReq({ port, path: eioPath(base, { transport: 'polling' }), headers });
  if (res.status !== 200 || res.text[0] !== '0') {
    throw new Error(`polling handshake failed: ${res.status} ${JSON.stringify(res.text.slice(0, 200))}`);
  }
  const open = JSON.parse(res.text.slice(1));
  return { sid: open.sid, open, res };
}

export const pollGet = (port, base, sid, timeout = 5000, headers = {}) =>
  httpReq({ port, path: eioPath(base, { transport: 'polling', sid }), timeout, headers });

export const pollPost = (port, base, sid, body, headers = {}, timeout = 5000) =>
  httpReq({
    port, method: 'POST', path: eioPath(base, { transport: 'polling', sid }),
    headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers }, body, timeout,
  });

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// A WebSocket client written frame by frame.
// opts.eioPong: answer Engine.IO ping "2" with "3" and hide it from next().
// opts.autoPong (default true): answer control-frame pings with pongs.
export class RawWs {
  static connect(port, path, opts = {}) {
    const ws = new RawWs(opts);
    return ws._connect(port, path, opts.headers || {}, opts.timeout || 5000).then(() => ws);
  }

  constructor(opts) {
    this.eioPong = !!opts.eioPong;
    this.autoPong = opts.autoPong !== false;
    this.buf = Buffer.alloc(0);
    this.queue = [];      // complete data messages
    this.waiters = [];
    this.frames = [];     // every frame header seen: {fin, rsv, opcode, masked, len}
    this.pongs = [];
    this.pongWaiters = [];
    this.fragments = null;
    this.closeFrame = null; // {code, reason} from the server
    this.protocolErrors = [];
    this.tcpClosed = false;
    this.eioPings = 0;
    this.bytesIn = 0;
    this.closedP = new Promise((r) => { this._closedResolve = r; });
  }

  _connect(port, path, headers, timeout) {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const sock = net.connect({ port, host: '127.0.0.1' });
      this.sock = sock;
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      let done = false;
      const t = setTimeout(() => {
        if (!done) { done = true; sock.destroy(); reject(new Error(`WebSocket handshake to ${path}: no answer in ${timeout} ms`)); }
      }, timeout);
      const onData = (d) => {
        if (this.status) { this._onData(d); return; }
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        const lines = head.subarray(0, i).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
        this.status = m ? Number(m[1]) : -1;
        this.statusLine = lines[0];
        this.headers = {};
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          if (c > 0) this.headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
        }
        const rest = head.subarray(i + 4);
        if (this.status === 101) {
          const want = createHash('sha1').update(key + WS_GUID).digest('base64');
          this.acceptOk = this.headers['sec-websocket-accept'] === want;
          done = true; clearTimeout(t);
          resolve();
          if (rest.length) this._onData(rest);
        } else {
          // Not upgraded: collect the body (Content-Length or until close).
          this.body = rest;
          const len = Number(this.headers['content-length']);
          const finish = () => {
            if (done) return;
            done = true; clearTimeout(t);
            this.text = this.body.toString('utf8');
            sock.destroy();
            resolve();
          };
          this._finishBody = () => { if (!Number.isNaN(len) && this.body.length >= len) finish(); };
          this._endBody = finish;
          this._finishBody();
        }
      };
      sock.on('data', (d) => {
        this.bytesIn += d.length;
        if (this.status && this.status !== 101) {
          this.body = Buffer.concat([this.body, d]);
          this._finishBody();
        } else onData(d);
      });
      sock.on('error', (e) => {
        this.sockError = e;
        if (!done) { done = true; clearTimeout(t); reject(e); }
      });
      sock.on('close', () => {
        this.tcpClosed = true;
        if (this._endBody) this._endBody();
        if (!done) { done = true; clearTimeout(t); reject(new Error(`connection closed during WebSocket handshake to ${path}`)); }
        this._closedResolve({ code: this.closeFrame ? this.closeFrame.code : null, reason: this.closeFrame ? this.closeFrame.reason : null });
        const ws = this.waiters; this.waiters = [];
        for (const w of ws) w.reject(new Error(`connection closed (close frame: ${JSON.stringify(this.closeFrame)})`));
      });
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    });
  }

  _onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const rsv = (b[0] >> 4) & 7;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      let mask = null;
      if (masked) { if (b.length < off + 4) return; mask = b.subarray(off, off + 4); off += 4; }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      this.buf = b.subarray(off + len);
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.frames.push({ fin, rsv, opcode, masked, len });
      if (masked) this.protocolErrors.push('server frame masked');
      if (rsv) this.protocolErrors.push(`server frame rsv=${rsv}`);
      this._onFrame(fin, opcode, payload);
    }
  }

  _onFrame(fin, opcode, payload) {
    if (opcode === 8) {
      this.closeFrame = {
        code: payload.length >= 2 ? payload.readUInt16BE(0) : null,
        reason: payload.length > 2 ? payload.subarray(2).toString('utf8') : '',
      };
      if (!this.sentClose) { try { this.sendFrame(8, payload.subarray(0, 2)); } catch { /* closed */ } }
      setTimeout(() => this.sock.destroy(), 200).unref();
      return;
    }
    if (opcode === 9) { if (this.autoPong && !this.sentClose) this.sendFrame(10, payload); return; }
    if (opcode === 10) {
      const w = this.pongWaiters.shift();
      if (w) w.resolve(payload); else this.pongs.push(payload);
      return;
    }
    if (opcode === 0) {
      if (!this.fragments) { this.protocolErrors.push('continuation without start'); return; }
      this.fragments.parts.push(payload);
      if (fin) {
        const { op, parts } = this.fragments;
        this.fragments = null;
        this._message(op, Buffer.concat(parts));
      }
      return;
    }
    if (opcode === 1 || opcode === 2) {
      if (this.fragments) this.protocolErrors.push('new data frame inside a fragmented message');
      if (!fin) { this.fragments = { op: opcode, parts: [payload] }; return; }
      this._message(opcode, payload);
      return;
    }
    this.protocolErrors.push(`unknown opcode ${opcode}`);
  }

  _message(op, payload) {
    const m = op === 1 ? { type: 'text', data: payload.toString('utf8') } : { type: 'binary', data: payload };
    if (op === 1 && this.eioPong && m.data === '2') {
      this.eioPings++;
      this.send('3');
      return;
    }
    const w = this.waiters.shift();
    if (w) w.resolve(m); else this.queue.push(m);
  }

  // Next data message {type:'text'|'binary', data}; rejects on timeout or close.
  next(ms = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.tcpClosed) return Promise.reject(new Error(`connection closed (close frame: ${JSON.stringify(this.closeFrame)})`));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (m) => { clearTimeout(t); resolve(m); },
        reject: (e) => { clearTimeout(t); reject(e); },
      };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no WebSocket message within ${ms} ms`));
      }, ms);
      this.waiters.push(w);
    });
  }

  async nextText(ms = 5000) {
    const m = await this.next(ms);
    if (m.type !== 'text') throw new Error(`expected a text frame, got binary ${m.data.toString('hex')}`);
    return m.data;
  }

  async nextBinary(ms = 5000) {
    const m = await this.next(ms);
    if (m.type !== 'binary') throw new Error(`expected a binary frame, got text ${JSON.stringify(m.data)}`);
    return m.data;
  }

  nextPong(ms = 5000) {
    if (this.pongs.length) return Promise.resolve(this.pongs.shift());
    return new Promise((resolve, reject) => {
      const w = { resolve: (p) => { clearTimeout(t); resolve(p); } };
      const t = setTimeout(() => {
        const i = this.pongWaiters.indexOf(w);
        if (i >= 0) this.pongWaiters.splice(i, 1);
        reject(new Error(`no pong within ${ms} ms`));
      }, ms);
      this.pongWaiters.push(w);
    });
  }

  // Resolves {code, reason} once the TCP connection is closed; rejects after ms.
  waitClose(ms = 5000) {
    let t;
    return Promise.race([
      this.closedP,
      new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`connection still open after ${ms} ms`)), ms); }),
    ]).finally(() => clearTimeout(t));
  }

  // Builds and writes one frame. Client frames are masked unless mask:false.
  sendFrame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0 } = {}) {
    const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = p.length;
    let hl = 2 + (len >= 65536 ? 8 : len >= 126 ? 2 : 0);
    const h = Buffer.alloc(hl + (mask ? 4 : 0));
    h[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
    if (len >= 65536) { h[1] = 127; h.writeBigUInt64BE(BigInt(len), 2); }
    else if (len >= 126) { h[1] = 126; h.writeUInt16BE(len, 2); }
    else h[1] = len;
    let body = p;
    if (mask) {
      h[1] |= 0x80;
      const k = randomBytes(4);
      k.copy(h, hl);
      body = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) body[i] = p[i] ^ k[i & 3];
    }
    if (opcode === 8) this.sentClose = true;
    return this.sock.write(Buffer.concat([h, body]));
  }

  // Text for strings, binary for Buffers / typed arrays.
  send(data) {
    if (typeof data === 'string') return this.sendFrame(1, Buffer.from(data, 'utf8'));
    return this.sendFrame(2, Buffer.from(data));
  }

  sendRaw(bytes) { return this.sock.write(bytes); }

  close(code = 1000) {
    const p = Buffer.alloc(2); p.writeUInt16BE(code, 0);
    try { this.sendFrame(8, p); } catch { /* closed */ }
  }

  destroy() { this.sock.destroy(); }
}

// Engine.IO over a direct WebSocket: connects and reads the open packet.
export async function wsOpen(port, base = '/engine.io/', opts = {}) {
  const ws = await RawWs.connect(port, eioPath(base, { transport: 'websocket', ...(opts.query || {}) }), opts);
  if (ws.status !== 101) throw new Error(`WebSocket upgrade refused: ${ws.statusLine} ${ws.text || ''}`);
  const first = await ws.nextText(opts.timeout || 5000);
  if (first[0] !== '0') throw new Error(`expected an open packet, got ${JSON.stringify(first)}`);
  ws.open = JSON.parse(first.slice(1));
  return ws;
}

// Socket.IO over a raw WebSocket, connected to the main namespace (`40`),
// its CONNECT reply and its `auth` event read. Engine.IO pings are answered.
export async function sioOpen(port, { base = '/socket.io/', auth } = {}) {
  const ws = await wsOpen(port, base, { eioPong: true });
  ws.send(auth === undefined ? '40' : `40${JSON.stringify(auth)}`);
  ws.connectReply = await ws.nextText();
  ws.authEvent = await ws.nextText();
  return ws;
}
