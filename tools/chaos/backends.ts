// The chaos drill's hold on the real back-ends: raw AMQP access to the order queue (depth, a poison message,
// the dead letters), stopping and starting the shared MariaDB and RabbitMQ services with a promise (kept
// even on a crash) to bring them back, and the scenario databases and queues to remove on such a crash.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import { sleep } from '../lib/processes';
import { dropScenarioDatabaseSync } from '../lib/toolsData';

const run = promisify(execFile);

/** Commands stopping or starting a service right now: an exit hook waits for them before undoing their work. */
const serviceCommands = new Set<number>();

/** Runs a command, bounded in time; resolves with stdout, rejects with its stderr on a non-zero exit. */
export async function sh(cmd: string, args: string[], timeoutMs = 60_000, service = false): Promise<string> {
  const running = run(cmd, args, { timeout: timeoutMs, encoding: 'utf8' });
  const pid = running.child.pid;
  if (service && pid) serviceCommands.add(pid);
  try {
    return (await running).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: unknown };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.code ?? 'error'}): ${(err.stderr || err.message).trim().slice(0, 400)}`);
  } finally {
    if (pid) serviceCommands.delete(pid);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------- MariaDB

/** `mysql://user[:pass]@host:port` from DATABASE_URL (its database name dropped), or the machine's default. */
export function mysqlServerUrl(env: NodeJS.ProcessEnv): string {
  const raw = env.CHAOS_MYSQL_URL || (env.DATABASE_URL?.startsWith('mysql://') ? env.DATABASE_URL : 'mysql://root@127.0.0.1:3306');
  const u = new URL(raw);
  const auth = u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : '';
  return `mysql://${auth}${u.host}`;
}

// --------------------------------------------------------------------------------------------- RabbitMQ

/** A short-lived AMQP connection of the drill's own, never the app's. */
export class QueueProbe {
  private conn: amqp.ChannelModel | null = null;

  constructor(
    private readonly url: string,
    readonly queue: string,
  ) {}

  get deadQueue(): string {
    return `${this.queue}.dead`;
  }

  private async connection(): Promise<amqp.ChannelModel> {
    if (this.conn) return this.conn;
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (this.conn === conn) this.conn = null;
    });
    this.conn = conn;
    return conn;
  }

  private async withChannel<T>(f: (ch: amqp.Channel) => Promise<T>): Promise<T> {
    const ch = await (await this.connection()).createChannel();
    ch.on('error', () => undefined);
    try {
      return await f(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Messages ready in a queue (not those delivered and unacked). */
  async depth(queue = this.queue): Promise<number> {
    return this.withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount);
  }

  /** Messages ready plus delivered-but-unacked, from the management-free `rabbitmqctl list_queues`. */
  async total(queue = this.queue): Promise<number | null> {
    const out = await sh('rabbitmqctl', ['-q', 'list_queues', 'name', 'messages', '--no-table-headers'], 20_000).catch(() => null);
    if (out === null) return null;
    for (const line of out.split('\n')) {
      const [name, n] = line.trim().split(/\s+/);
      if (name === queue) return Number(n);
    }
    return null;
  }

  /** Straight onto the order queue, as any client of the broker could: persistent, confirmed. */
  async publishRaw(body: string): Promise<void> {
    const ch = await (await this.connection()).createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      ch.sendToQueue(this.queue, Buffer.from(body, 'utf8'), { persistent: true, contentType: 'application/json' });
      await ch.waitForConfirms();
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Every body in the dead-letter queue; read without acking, so they stay there. */
  async deadLetters(): Promise<string[]> {
    return this.withChannel(async (ch) => {
      const bodies: string[] = [];
      for (let i = 0; i < 10_000; i += 1) {
        const msg = await ch.get(this.deadQueue, { noAck: false });
        if (!msg) break;
        bodies.push(msg.content.toString('utf8'));
      }
      return bodies; // closing the channel puts them back
    });
  }

  async deleteQueues(): Promise<void> {
    for (const q of [this.queue, this.deadQueue]) await this.withChannel((ch) => ch.deleteQueue(q)).catch(() => undefined);
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    await conn?.close().catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------ the shared services

/** Services this process has taken down and not yet brought back; restored even from an exit handler. */
const down = new Set<'rabbitmq' | 'mariadb'>();
/** Scenario databases (name -> server URL) and queues not yet removed. */
const leftoverDatabases = new Map<string, string>();
const leftoverQueues = new Set<string>();
let exitHooked = false;

export function trackDatabase(serverUrl: string, name: string, present: boolean): void {
  if (present) leftoverDatabases.set(name, serverUrl);
  else leftoverDatabases.delete(name);
}

export function trackQueues(queue: string, present: boolean): void {
  for (const q of [queue, `${queue}.dead`]) {
    if (present) leftoverQueues.add(q);
    else leftoverQueues.delete(q);
  }
}

/**
 * Last resort when the drill dies (crash, watchdog, Ctrl-C: process.exit skips every finally): bring back a
 * service it stopped, then remove its scenario's database and queues. Synchronous, as 'exit' handlers must be.
 */
export function installExitHook(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    restoreSync();
    for (const q of leftoverQueues) {
      try {
        execFileSync('rabbitmqctl', ['-q', 'delete_queue', q], { stdio: 'ignore', timeout: 20_000 });
      } catch {
        // already gone, or the broker is not there to ask
      }
    }
    for (const [name, serverUrl] of leftoverDatabases) {
      try {
        dropScenarioDatabaseSync(serverUrl, name);
      } catch {
        process.stderr.write(`chaos: could not drop database ${name}\n`);
      }
    }
  });
}

function restoreSync(): void {
  // A stop still under way would undo the start below: let it finish first (bounded).
  for (let i = 0; i < 120 && [...serviceCommands].some(alive); i += 1) execFileSync('sleep', ['0.5']);
  if (down.has('rabbitmq')) {
    process.stderr.write('chaos: exiting with RabbitMQ stopped; starting it again\n');
    try {
      execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore', timeout: 60_000 });
      execFileSync('rabbitmqctl', ['await_startup', '--timeout', '60'], { stdio: 'ignore', timeout: 70_000 });
    } catch (e) {
      process.stderr.write(`chaos: could not start RabbitMQ: ${(e as Error).message}\n`);
    }
  }
  if (down.has('mariadb')) {
    process.stderr.write('chaos: exiting with MariaDB stopped; starting it again\n');
    try {
      execFileSync('start-stop-daemon', MARIADB_START, { stdio: 'ignore', timeout: 30_000 });
      for (let i = 0; i < 60; i += 1) {
        try {
          execFileSync('mariadb-admin', ['ping'], { stdio: 'ignore', timeout: 5_000 });
          break;
        } catch {
          execFileSync('sleep', ['1']);
        }
      }
    } catch (e) {
      process.stderr.write(`chaos: could not start MariaDB: ${(e as Error).message}\n`);
    }
  }
}

const MARIADB_STOP = ['--stop', '--oknodo', '--retry', '30', '--exec', '/usr/sbin/mariadbd'];
const MARIADB_START = ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'];

export async function stopRabbit(): Promise<void> {
  installExitHook();
  down.add('rabbitmq');
  await sh('rabbitmqctl', ['stop_app'], 60_000, true);
}

export async function startRabbit(): Promise<void> {
  await sh('rabbitmqctl', ['start_app'], 120_000, true);
  await sh('rabbitmqctl', ['await_startup', '--timeout', '90'], 100_000);
  down.delete('rabbitmq');
}

export async function stopMariadb(): Promise<void> {
  installExitHook();
  down.add('mariadb');
  await sh('start-stop-daemon', MARIADB_STOP, 60_000, true);
}

export async function startMariadb(): Promise<void> {
  await sh('start-stop-daemon', MARIADB_START, 30_000, true);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (await sh('mariadb-admin', ['ping'], 5_000).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error('MariaDB did not answer mariadb-admin ping within 90 s of its start');
    await sleep(200);
  }
  down.delete('mariadb');
}

/** Brings back whatever this process stopped; for finally blocks. */
export async function restoreServices(say: (line: string) => void): Promise<void> {
  if (down.has('rabbitmq')) {
    say('  restoring RabbitMQ (start_app)');
    await startRabbit().catch((e) => say(`  could not start RabbitMQ: ${(e as Error).message}`));
  }
  if (down.has('mariadb')) {
    say('  restoring MariaDB');
    await startMariadb().catch((e) => say(`  could not start MariaDB: ${(e as Error).message}`));
  }
}

/** Is the service answering right now (whoever stopped it)? */
export async function rabbitUp(): Promise<boolean> {
  return sh('rabbitmqctl', ['-q', 'await_startup', '--timeout', '5'], 15_000).then(() => true, () => false);
}

export async function mariadbUp(): Promise<boolean> {
  return sh('mariadb-admin', ['ping'], 5_000).then(() => true, () => false);
}

// ------------------------------------------------------------------- other engineers' runs on the services

/** What restarting a shared service would hurt: test suites, benches, CI runs, another chaos drill. */
const OTHERS = 'jest|dist/tools/bench|\\.ci/run|dist/tools/chaos';

function ancestors(): Set<number> {
  const pids = new Set<number>([process.pid]);
  let pid = process.ppid;
  for (let i = 0; i < 64 && pid > 1; i += 1) {
    pids.add(pid);
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}

/** Other processes using the shared services, excluding this drill and whatever started it (CI's .ci/run). */
export async function otherUsers(): Promise<string[]> {
  const out = await sh('pgrep', ['-fa', OTHERS], 10_000).catch(() => ''); // exit 1: none
  const mine = ancestors();
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !mine.has(Number(l.split(' ')[0])));
}

/** Polls until no one else uses the services; false when they are still busy after `timeoutMs`. */
export async function waitForOthers(timeoutMs: number, say: (line: string) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const others = await otherUsers();
    if (others.length === 0) return true;
    if (!told) {
      say(`  waiting (up to ${Math.round(timeoutMs / 1000)} s) for other runs on the shared services to end:`);
      for (const o of others.slice(0, 5)) say(`    ${o.slice(0, 140)}`);
      told = true;
    }
    if (Date.now() > deadline) return false;
    await sleep(3000);
  }
}
