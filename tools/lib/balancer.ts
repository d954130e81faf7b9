// nginx as the cluster's balancer on this machine: a child process on loopback with a private prefix (config,
// pid, logs and temp files in one directory), the same directives as deploy/nginx.conf (one renderer,
// tools/lib/nginxConfig.ts), reloadable with another set of instances, and its CPU time read from /proc.
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { processTicks, TICK_MS } from './cpu';
import { renderNginxConfig } from './nginxConfig';
import { Child, freePort, startChild, waitFor } from './processes';

const run = promisify(execFile);

/** The nginx binary: NGINX_BIN, Debian's /usr/sbin/nginx, or one on PATH; null when there is none. */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env.NGINX_BIN, '/usr/sbin/nginx', ...(env.PATH ?? '').split(':').map((d) => path.join(d, 'nginx'))];
  for (const file of candidates) {
    if (!file) continue;
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not this one
    }
  }
  return null;
}

export const NGINX_MISSING = 'nginx is not installed: apt-get install -y nginx-light (.ci/run installs it), or set NGINX_BIN';

export interface BalancerOptions {
  /** Loopback ports of the app instances. */
  backends: number[];
  /** Its own port; a free one when left out. */
  port?: number;
  /** Its prefix directory, kept after stop(); a fresh temp directory, removed by stop(), when left out. */
  dir?: string;
  nginx?: string;
  startTimeoutMs?: number;
}

export interface Balancer {
  port: number;
  url: string;
  /** The prefix: nginx.conf, nginx.pid, logs/, temp/. */
  dir: string;
  pid: number;
  backends(): number[];
  /** Routes to these instances from now on: resolves once new connections are served by the new config. */
  reload(backends: number[]): Promise<void>;
  /** CPU time of the master and its workers (live ones, and those it has reaped), in microseconds. */
  cpuUs(): number;
  stop(): Promise<void>;
}

export async function startBalancer(o: BalancerOptions): Promise<Balancer> {
  const nginx = o.nginx ?? findNginx();
  if (!nginx) throw new Error(NGINX_MISSING);
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), 'flash-sale-balancer-'));
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  mkdirSync(path.join(dir, 'temp'), { recursive: true });
  // Run as root, nginx hands requests to workers running as nobody: they must reach the temp directories.
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
  const port = o.port ?? (await freePort());
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'logs', 'error.log');
  const flags = ['-p', dir, '-c', conf, '-e', errorLog];
  const withoutModules = compiledWithout(nginx);
  let generation = 0;
  let current = [...o.backends];

  const write = (backends: number[]) => {
    generation += 1;
    writeFileSync(conf, localConfig(dir, port, backends, String(generation), withoutModules));
  };
  write(current);
  await check(nginx, flags);
  const child: Child = startChild(nginx, [...flags, '-g', 'daemon off;'], { logFile: path.join(dir, 'logs', 'stdout.log') });
  const url = `http://127.0.0.1:${port}`;
  const inEffect = (timeoutMs: number) => {
    const want = String(generation);
    return waitFor(`nginx on ${url} (config ${want})`, async () => (await freshGet(`${url}/.balancer`)) === want, timeoutMs, child);
  };
  try {
    await inEffect(o.startTimeoutMs ?? 10_000);
  } catch (err) {
    await child.stop(2000);
    throw new Error(`${(err as Error).message}; see ${errorLog}`);
  }
  const master = child.proc.pid!;

  return {
    port,
    url,
    dir,
    pid: master,
    backends: () => [...current],
    async reload(backends) {
      current = [...backends];
      write(current);
      await check(nginx, flags);
      const old = childrenOf(master);
      await run(nginx, [...flags, '-s', 'reload']);
      await inEffect(10_000);
      // Until the old workers have gone, one of them may still accept a connection and serve it by the old
      // config (or close it unanswered as it shuts down): the new config is in effect once they have exited.
      await waitFor(`nginx's old workers gone after a reload`, async () => !childrenOf(master).some((pid) => old.includes(pid)), 15_000, child);
    },
    cpuUs() {
      let ticks = processTicks(master, true);
      for (const pid of childrenOf(master)) ticks += processTicks(pid, false);
      return ticks * TICK_MS * 1000;
    },
    async stop() {
      // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for every kept-alive client.
      await child.stop(5000);
      // A prefix of our own making goes with it; one the caller chose (a run's directory) keeps its logs.
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The local config: deploy/nginx.conf's directives for loopback ports, everything nginx writes kept in `dir`. */
function localConfig(dir: string, port: number, backends: number[], generation: string, without: Set<string>): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].filter((m) => !without.has(m));
  return renderNginxConfig({
    backends: backends.map((p) => `127.0.0.1:${p}`),
    listen: `127.0.0.1:${port}`,
    // One worker: on a small machine the balancer's cost per request is read without a second one's contention.
    workerProcesses: 1,
    main: [`pid ${path.join(dir, 'nginx.pid')};`, `error_log ${path.join(dir, 'logs', 'error.log')} warn;`],
    http: ['access_log off;', ...temp.map((m) => `${m}_temp_path ${path.join(dir, 'temp', m)};`)],
    generation,
  });
}

/** The http modules this nginx was built without (nginx-light leaves some out): their directives would be refused. */
function compiledWithout(nginx: string): Set<string> {
  const r = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return new Set([...text.matchAll(/--without-http_(\w+?)_module/g)].map((m) => m[1]));
}

async function check(nginx: string, flags: string[]): Promise<void> {
  try {
    await run(nginx, [...flags, '-t', '-q']);
  } catch (err) {
    throw new Error(`nginx refused its config: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
  }
}

/** GET over a connection of its own: a kept-alive one could still be served by a worker of the old config. */
function freshGet(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Processes whose parent is `pid` (nginx's workers, old ones still finishing included). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the state, after the ")" that closes the command name.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone already
    }
  }
  return out;
}
