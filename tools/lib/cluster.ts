// Several shop instances on this machine behind the balancer: each a dist/src/server.js on its own loopback
// port with INSTANCE_ID i1..iN and the shared database, broker and cookie keys; stopped, killed or added one
// at a time, with each one's CPU time read from /proc.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AppProcess, Health, salesOpen, spawnApp, waitHealthy } from './appProcess';
import { Balancer, startBalancer } from './balancer';
import { processTicks, TICK_MS } from './cpu';
import { freePort } from './processes';

export interface ClusterOptions {
  /** The package root, holding dist/src/server.js. */
  root: string;
  instances: number;
  /** Where the instances' logs and the balancer's prefix go. */
  dir: string;
  databaseUrl: string;
  amqpUrl: string;
  /** COOKIE_KEYS, the same for every instance: a login made on one is read on all. */
  cookieKeys: string;
  /** Any other settings, the same for every instance (PATH is passed through unless set here). */
  env?: NodeJS.ProcessEnv;
  /** Settings of one instance over all the others (a fault drill's proxied database, say). */
  envFor?: (id: string) => NodeJS.ProcessEnv;
  /** When an instance counts as up; by default /healthz answers 200 with the sales open. */
  ready?: (h: Health) => boolean;
  startTimeoutMs?: number;
  /** false: the instances alone, no balancer in front. */
  balancer?: boolean;
  /** The balancer's port; a free one when left out. */
  balancerPort?: number;
}

export interface Instance extends AppProcess {
  /** INSTANCE_ID and METRICS_INSTANCE: i1, i2, ... in the order started. */
  id: string;
  /** Set once the process has exited, by whatever means. */
  exited: boolean;
}

export class Cluster {
  readonly instances: Instance[] = [];
  balancer: Balancer | null = null;
  private started = 0;

  private constructor(private readonly o: ClusterOptions) {}

  /** Starts the first instance, then the others side by side, waits for each one's /healthz, then the balancer. */
  static async start(o: ClusterOptions): Promise<Cluster> {
    mkdirSync(o.dir, { recursive: true });
    const cluster = new Cluster(o);
    try {
      // The first alone: it applies the migrations, which two processes must not race to apply.
      await cluster.launch();
      await Promise.all(Array.from({ length: o.instances - 1 }, () => cluster.launch()));
      if (o.balancer !== false) {
        cluster.balancer = await startBalancer({ backends: cluster.live().map((i) => i.port), dir: path.join(o.dir, 'balancer'), port: o.balancerPort });
      }
    } catch (err) {
      await cluster.stopAll();
      throw err;
    }
    return cluster;
  }

  /** The balancer's URL, or the first live instance's without one. */
  get url(): string {
    return this.balancer?.url ?? this.live()[0].url;
  }

  /** Instances whose process still runs. */
  live(): Instance[] {
    return this.instances.filter((i) => !i.exited);
  }

  instance(id: string): Instance {
    const found = this.instances.find((i) => i.id === id);
    if (!found) throw new Error(`no instance ${id}`);
    return found;
  }

  /** A new instance, and then the balancer routes to it too (its share of the ring moves to it). */
  async add(): Promise<Instance> {
    const instance = await this.launch();
    await this.balancer?.reload(this.live().map((i) => i.port));
    return instance;
  }

  /**
   * A graceful stop: the balancer stops routing to it first, then SIGTERM, and resolves with its exit once it
   * has drained (SIGKILL after `graceMs`).
   */
  async stop(id: string, graceMs = 30_000): Promise<number | string> {
    const instance = this.instance(id);
    if (this.balancer && !instance.exited) {
      const others = this.live().filter((i) => i !== instance);
      if (others.length > 0) await this.balancer.reload(others.map((i) => i.port));
    }
    return instance.child.stop(graceMs);
  }

  /** A crash: SIGKILL, the balancer left as it was (it finds out by itself, as it would in production). */
  async kill(id: string): Promise<number | string> {
    const instance = this.instance(id);
    if (!instance.exited) instance.child.proc.kill('SIGKILL');
    return instance.child.exited;
  }

  /** Routes to the live instances only (after a kill, say, once the fault has been observed). */
  async rebalance(): Promise<void> {
    await this.balancer?.reload(this.live().map((i) => i.port));
  }

  /** CPU time of one instance, in microseconds (its worker threads included); 0 once it has exited. */
  cpuUs(id: string): number {
    const instance = this.instance(id);
    return instance.exited ? 0 : processTicks(instance.child.proc.pid!, true) * TICK_MS * 1000;
  }

  /** The balancer's CPU time in microseconds; 0 without one. */
  balancerCpuUs(): number {
    return this.balancer?.cpuUs() ?? 0;
  }

  /** The balancer, then every instance with SIGTERM (and SIGKILL after `graceMs`). */
  async stopAll(graceMs = 30_000): Promise<void> {
    await this.balancer?.stop();
    await Promise.all(this.instances.map((i) => i.child.stop(graceMs)));
  }

  private async launch(): Promise<Instance> {
    const id = `i${++this.started}`;
    const port = await freePort();
    const app = spawnApp({
      root: this.o.root,
      port,
      logFile: path.join(this.o.dir, `${id}.log`),
      env: {
        PATH: process.env.PATH,
        ...this.o.env,
        DATABASE_URL: this.o.databaseUrl,
        AMQP_URL: this.o.amqpUrl,
        COOKIE_KEYS: this.o.cookieKeys,
        INSTANCE_ID: id,
        METRICS_INSTANCE: id,
        ...this.o.envFor?.(id),
      },
    });
    const instance: Instance = { ...app, id, exited: false };
    this.instances.push(instance);
    void app.child.exited.then(() => (instance.exited = true));
    await waitHealthy(app, `instance ${id} on port ${port}`, this.o.startTimeoutMs ?? 60_000, this.o.ready ?? salesOpen);
    return instance;
  }
}
