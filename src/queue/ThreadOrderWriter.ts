// Runs the order writer in a worker thread, so that writing orders (amqplib deliveries and acks, TypeORM,
// mysql2) never waits behind purchase requests, nor they behind it. A writer thread that dies is started
// again: the broker gives its unsettled messages back to the queue when its connection closes.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { OrderTracker } from '../services/OrderTracker';
import type { FromWriter, ToWriter, WriterSettings } from './orderWriterThread';
import type { OrderWriter } from './OrderWriter';

export interface ThreadScript {
  /** The worker's entry file. */
  filename: string;
  /** Handed to the entry as workerData next to the settings (used by tests to load TypeScript). */
  extra?: Record<string, unknown>;
}

/** The compiled entry next to this file. */
export const defaultThreadScript: ThreadScript = { filename: path.join(__dirname, 'orderWriterThread.js') };

export class ThreadOrderWriter implements OrderWriter {
  readonly where = 'thread' as const;
  private worker: Worker | null = null;
  private inHand = false;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private waiters: { type: FromWriter['type']; resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(
    private readonly settings: WriterSettings,
    private readonly tracker: Pick<OrderTracker, 'forget' | 'failed'>,
    private readonly log: Logger,
    private readonly script: ThreadScript = defaultThreadScript,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    if (this.worker) return this.ask({ type: 'resume' }, 'ready');
    const starting = this.spawn();
    const worker = this.worker as Worker | null;
    try {
      await starting;
    } catch (err) {
      this.stopping = true; // a writer that cannot start is the app's start failing: no restarts
      await worker?.terminate();
      throw err;
    }
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.script.filename, { workerData: { ...this.script.extra, ...this.settings } });
    this.worker = worker;
    worker.on('message', (m: FromWriter) => this.onMessage(m));
    worker.on('error', (err) => this.log.error({ err }, 'order writer thread failed'));
    worker.on('exit', (code) => this.onExit(worker, code));
    return this.wait('ready');
  }

  busy(): boolean {
    return this.inHand;
  }

  pause(): Promise<void> {
    return this.worker ? this.ask({ type: 'pause' }, 'paused') : Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'stop' } satisfies ToWriter);
    // The batch in hand normally finishes in milliseconds; a writer stuck on a dead database is cut off
    // (its messages stay queued for the next start).
    const cutOff = setTimeout(() => void worker.terminate(), 15_000);
    await exited;
    clearTimeout(cutOff);
  }

  async kill(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.worker?.terminate();
  }

  private ask(message: ToWriter, answer: FromWriter['type']): Promise<void> {
    const waiting = this.wait(answer);
    this.worker!.postMessage(message);
    return waiting;
  }

  private wait(type: FromWriter['type']): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve, reject }));
  }

  private settleWaiters(type: FromWriter['type'], err?: Error): void {
    const now = this.waiters.filter((w) => err !== undefined || w.type === type);
    this.waiters = this.waiters.filter((w) => !now.includes(w));
    for (const w of now) (err ? w.reject(err) : w.resolve());
  }

  private onMessage(m: FromWriter): void {
    switch (m.type) {
      case 'busy':
        this.inHand = m.busy;
        return;
      case 'settled':
        for (const id of m.written) this.tracker.forget(id);
        for (const id of m.failed) this.tracker.failed(id);
        return;
      case 'fatal':
        this.log.error({ err: m.message }, 'order writer thread could not start');
        this.settleWaiters(m.type, new Error(`order writer: ${m.message}`));
        return;
      default:
        this.settleWaiters(m.type);
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.inHand = false;
    this.settleWaiters('stopped');
    this.settleWaiters('stopped', new Error(`order writer thread exited (code ${code})`));
    if (this.stopping) return;
    this.log.error({ code }, 'order writer thread exited; starting it again in 1 s');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      // A failed restart ends in another exit, which schedules the next try.
      this.spawn().catch((err: Error) => this.log.error({ err: err.message }, 'order writer thread did not start again'));
    }, 1000);
  }
}
