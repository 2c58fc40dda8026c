// An Apache httpd of a test's own in front of brokers of the test's own,
// built from the SAMPLE production site share/apache/pushdesk.conf: its
// `<Proxy "balancer://pushdesk_brokers">` block (BalancerMember addresses
// replaced, routes and parameters kept) and its `<Location "/socket.io/">`
// are copied verbatim into a plain-HTTP server on a free loopback port, so
// that the sample's sticky rule itself is tested. The i-th broker must run
// with broker_route = sampleRoutes()[i]. The access log records, per request,
// the sid, the status and the member that served it.
//
//   const a = await startApache(['127.0.0.1:P1', '127.0.0.1:P2']);
//   a.url, a.log() -> [{t, method, transport, sid, status, worker, route}]
//   await a.stop();
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { SRC, freePort, tmpDir } from './broker.mjs';
import { runFront } from './front_proc.mjs';

export const SAMPLE = path.join(SRC, 'share', 'apache', 'pushdesk.conf');
export const APACHE_BIN = ['/usr/sbin/apache2', '/usr/sbin/httpd'].find((f) => existsSync(f)) || '/usr/sbin/apache2';
const MODULES = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules']
  .find((d) => existsSync(path.join(d, 'mod_proxy_balancer.so'))) || '/usr/lib/apache2/modules';

// The <Tag ...> ... </Tag> section that starts at the match of re.
function section(text, re, tag, what) {
  const m = re.exec(text);
  if (!m) throw new Error(`${SAMPLE}: no ${what}`);
  const end = text.indexOf(`</${tag}>`, m.index);
  if (end < 0) throw new Error(`${SAMPLE}: unterminated ${what}`);
  return text.slice(m.index, end + tag.length + 3);
}

const MEMBER = /^(\s*BalancerMember\s+)"?http:\/\/[^\s"]+"?(.*)$/;

// The routes of the sample's (uncommented) members, in their order (b1, b2).
export function sampleRoutes() {
  const proxy = section(readFileSync(SAMPLE, 'utf8'), /^\s*<Proxy "balancer:\/\/pushdesk_brokers">/m, 'Proxy', 'balancer');
  return proxy.split('\n').filter((l) => MEMBER.test(l)).map((l) => {
    const r = /\sroute=(\S+)/.exec(l);
    if (!r) throw new Error(`${SAMPLE}: a BalancerMember without route=: ${l}`);
    return r[1];
  });
}

// `apache2 -t` of the whole sample site, included in a server that loads the
// modules its header names, with a self-signed certificate in place of its
// certificate paths. Resolves the output (throws with it on a refusal).
export function configtestSample() {
  const dir = tmpDir('apache-sample-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=desk.example.com',
    '-keyout', key, '-out', cert], { stdio: 'ignore', timeout: 30_000 });
  const site = readFileSync(SAMPLE, 'utf8')
    .replace('/etc/ssl/pushdesk/fullchain.pem', cert).replace('/etc/ssl/pushdesk/privkey.pem', key);
  writeFileSync(path.join(dir, 'pushdesk.conf'), site);
  const mods = ['mpm_event', 'authz_core', 'mime', 'alias', 'headers', 'log_config', 'proxy', 'proxy_fcgi', 'proxy_http',
    'proxy_wstunnel', 'proxy_balancer', 'slotmem_shm', 'lbmethod_byrequests', 'rewrite', 'ssl', 'socache_shmcb']
    .filter((m) => m !== 'log_config' && existsSync(`${MODULES}/mod_${m}.so`));
  const conf = path.join(dir, 'httpd.conf');
  writeFileSync(conf, `ServerRoot "${dir}"
DefaultRuntimeDir "${dir}"
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
Define APACHE_LOG_DIR ${dir}
${mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join('\n')}
Listen 127.0.0.1:80
ServerName 127.0.0.1
Include "${dir}/pushdesk.conf"
`);
  try {
    return execFileSync(APACHE_BIN, ['-t', '-f', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    throw new Error(`${APACHE_BIN} -t refuses ${SAMPLE}: ${(e.stderr || '').toString()}`);
  }
}

// The sample's balancer and /socket.io/ location, members replaced by `servers`.
export function sampleParts(servers) {
  const text = readFileSync(SAMPLE, 'utf8');
  let proxy = section(text, /^\s*<Proxy "balancer:\/\/pushdesk_brokers">/m, 'Proxy', 'balancer pushdesk_brokers');
  const n = proxy.split('\n').filter((l) => MEMBER.test(l)).length;
  if (n !== servers.length) throw new Error(`${SAMPLE}: ${n} BalancerMember lines, the test has ${servers.length} brokers`);
  let k = 0;
  proxy = proxy.split('\n').map((l) => l.replace(MEMBER, (_, pre, rest) => `${pre}"http://${servers[k++]}"${rest}`)).join('\n');
  const location = section(text, /^\s*<Location "\/socket\.io\/">/m, 'Location', 'Location /socket.io/');
  return { proxy, location };
}

export async function startApache(servers) {
  const dir = tmpDir('apache-cluster-');
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  const port = await freePort();
  const { proxy, location } = sampleParts(servers);
  const root = process.getuid && process.getuid() === 0;
  const conf = path.join(dir, 'httpd.conf');
  const accessLog = path.join(dir, 'access.log');
  const errorLog = path.join(dir, 'error.log');
  const mods = ['mpm_event', 'authz_core', 'mime', 'alias', 'headers', 'proxy', 'proxy_http', 'proxy_wstunnel',
    'proxy_balancer', 'slotmem_shm', 'lbmethod_byrequests'];
  writeFileSync(conf, `# generated by tests/integration/lib/apache_cluster.mjs from ${SAMPLE}
ServerRoot "${dir}"
DefaultRuntimeDir "${dir}/run"
PidFile "${dir}/run/httpd.pid"
ErrorLog "${errorLog}"
LogLevel warn
${root ? 'User www-data\nGroup www-data' : ''}
${mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join('\n')}
StartServers 1
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
Listen 127.0.0.1:${port}
ServerName 127.0.0.1
TypesConfig /dev/null
LogFormat "%{msec}t|%m|%q|%>s|%{BALANCER_WORKER_NAME}e|%{BALANCER_WORKER_ROUTE}e|%{BALANCER_SESSION_ROUTE}e|%D" pdroute
CustomLog "${accessLog}" pdroute
ProxyRequests Off
ProxyPreserveHost On
<Directory />
    Require all denied
</Directory>

# ---- from ${SAMPLE} ----
${proxy}
${location}
# ---- end ----
`);
  const args = ['-f', conf];
  const p = await runFront({ bin: APACHE_BIN, check: [...args, '-t'], args: [...args, '-DFOREGROUND'], port, conf, errorLog, what: 'apache' });
  return {
    dir, port, conf, accessLog, errorLog, proc: p.proc,
    url: p.url,
    get exited() { return p.exited; },
    log() {
      if (!existsSync(accessLog)) return [];
      return readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => {
        const [msec, method, q, status, worker, route] = l.split('|');
        const p = new URLSearchParams(q.replace(/^\?/, ''));
        return {
          t: Number(msec), method, transport: p.get('transport'), sid: p.get('sid'), status: Number(status),
          worker: worker === '-' ? null : worker.replace(/^http:\/\//, '').replace(/\/$/, ''), route: route === '-' ? null : route,
        };
      });
    },
    stop: () => p.stop(),
  };
}
