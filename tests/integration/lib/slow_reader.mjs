// A Socket.IO client that stops reading and floods (broker_client's slow
// reader), run as a child process: node slow_reader.mjs PORT. Its CPU and
// garbage stay out of the test's process, whose own clients must answer
// the conformance profile's pings within 200 ms. It connects to "/", stops
// reading, sends `message` events of 256 KiB (their echoes pile up in the
// broker) for at most 8 s or 64 MiB, then reads again until the broker
// closes the connection, and prints one JSON line: {sent, floodMs, closed}.
import { sioOpen } from './rawclient.mjs';

const port = Number(process.argv[2]);
const slow = await sioOpen(port);
const chunk = Buffer.from(`42["message","${'x'.repeat(256 * 1024)}"]`);
let sent = 0;
let writeError = null;
slow.sock.on('error', (e) => { writeError = e; });
slow.sock.pause();
const t0 = Date.now();
while (Date.now() - t0 < 8000 && !writeError && !slow.sock.destroyed && sent < 64 * 1024 * 1024) {
  const ok = slow.sendFrame(1, chunk);
  sent += chunk.length;
  if (!ok) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 200);
      slow.sock.once('drain', () => { clearTimeout(t); resolve(); });
    });
  }
}
const floodMs = Date.now() - t0;
slow.sock.resume();
let closed = true;
try { await slow.waitClose(10000); } catch { closed = false; }
process.stdout.write(`${JSON.stringify({ sent, floodMs, closed })}\n`);
process.exit(0);
