// A front end (nginx, Apache httpd) of a test's own, run in the foreground
// as a child of the test: started, awaited on its port, stopped with its
// workers. Shared by nginx_cluster.mjs and apache_cluster.mjs.
//
//   const p = await runFront({ bin, check, args, port, conf, errorLog, what: 'nginx' });
//   p.proc, p.exited, p.url, await p.stop();
// check: the arguments that test the configuration first (nginx -t).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { sleep } from './broker.mjs';

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function runFront({ bin, check, args, port, conf, errorLog, what, readyMs = 15_000 }) {
  try {
    execFileSync(bin, check, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    throw new Error(`${what} refuses ${conf}: ${(e.stderr || '').toString()}${readFileSync(conf, 'utf8')}`);
  }
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  let exited = null;
  const exitP = new Promise((resolve) => proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  // KILL the workers (the master's children, by pid) and the master.
  const killAll = () => {
    let kids = [];
    try { kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { /* gone */ }
    for (const k of kids) { try { process.kill(Number(k), 'SIGKILL'); } catch { /* gone */ } }
    try { proc.kill('SIGKILL'); } catch { /* gone */ }
  };
  process.on('exit', () => { if (!exited) killAll(); });
  const deadline = Date.now() + readyMs;
  while (!(await portOpen(port))) {
    if (exited) throw new Error(`${what} exited early ${JSON.stringify(exited)}: ${out}${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`);
    if (Date.now() > deadline) { killAll(); throw new Error(`${what} not listening on ${port} within ${readyMs} ms: ${out}`); }
    await sleep(50);
  }
  return {
    proc,
    url: `http://127.0.0.1:${port}`,
    get exited() { return exited; },
    // TERM: the master stops its workers; KILL after 5 s.
    async stop() {
      if (exited) return exited;
      try { proc.kill('SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(killAll, 5000);
      const r = await exitP;
      clearTimeout(t);
      return r;
    },
  };
}
