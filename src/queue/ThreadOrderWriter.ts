// Runs the order writer in a worker thread, so that writing orders (amqplib deliveries and acks, TypeORM,
// mysql2) never waits behind purchase requests, nor they behind it. A writer thread that dies is started
// again, with backoff: the broker gives its unsettled messages back to the queue when its connection closes.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { BatchObserver } from './OrderConsumer';
import type { SettlementListener } from './OrderQueue';
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

const FIRST_RESTART_MS = 1000;
const LAST_RESTART_MS = 30_000;

/** Runs `restart` once, `delayMs` from now; the function it returns cancels it. */
export type RestartSchedule = (restart: () => void, delayMs: number) => () => void;

/** A timer, as in production; tests hand in their own schedule to take the restarts' time in hand. */
export const timerSchedule: RestartSchedule = (restart, delayMs) => {
  const timer = setTimeout(restart, delayMs);
  return () => clearTimeout(timer);
};

export class ThreadOrderWriter implements OrderWriter {
  readonly where = 'thread' as const;
  private worker: Worker | null = null;
  /** The worker has said it is consuming (and has not died or been paused since). */
  private consuming = false;
  private inHand = false;
  private stopping = false;
  private cancelPendingRestart: (() => void) | null = null;
  private restartDelay = FIRST_RESTART_MS;
  private waiters: { type: FromWriter['type']; resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(
    private readonly settings: WriterSettings,
    private readonly settled: SettlementListener,
    private readonly log: Logger,
    private readonly script: ThreadScript = defaultThreadScript,
    private readonly schedule: RestartSchedule = timerSchedule,
    private readonly batches: BatchObserver = () => undefined,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    this.cancelRestart();
    if (this.worker) return this.ask({ type: 'resume' }, 'ready');
    const worker = this.spawn();
    try {
      await this.wait('ready');
    } catch (err) {
      this.stopping = true; // a writer that cannot start is the app's start failing: no restarts
      this.cancelRestart();
      await worker.terminate();
      throw err;
    }
  }

  busy(): boolean {
    return this.inHand;
  }

  /** Consuming now; false while it starts, restarts or is paused. */
  isUp(): boolean {
    return this.consuming;
  }

  /** A thread that dies while paused comes back consuming: pausing is for tests and drills. */
  pause(): Promise<void> {
    return this.worker ? this.ask({ type: 'pause' }, 'paused') : Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelRestart();
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
    this.cancelRestart();
    await this.worker?.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(this.script.filename, { workerData: { ...this.script.extra, ...this.settings } });
    this.worker = worker;
    // Only the current worker speaks: a thread being replaced must not touch the busy flag or the waiters.
    worker.on('message', (m: FromWriter) => {
      if (this.worker === worker) this.onMessage(m);
    });
    worker.on('error', (err) => this.log.error({ err }, 'order writer thread failed'));
    worker.on('exit', (code) => this.onExit(worker, code));
    return worker;
  }

  private ask(message: ToWriter, answer: FromWriter['type']): Promise<void> {
    const waiting = this.wait(answer);
    this.worker!.postMessage(message);
    return waiting;
  }

  private wait(type: FromWriter['type']): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve, reject }));
  }

  private settleWaiters(type: FromWriter['type'] | null, err?: Error): void {
    const now = this.waiters.filter((w) => type === null || w.type === type);
    this.waiters = this.waiters.filter((w) => !now.includes(w));
    for (const w of now) (err ? w.reject(err) : w.resolve());
  }

  private onMessage(m: FromWriter): void {
    switch (m.type) {
      case 'busy':
        this.inHand = m.busy;
        return;
      case 'settled':
        for (const id of m.written) this.settled.written(id);
        for (const id of m.failed) this.settled.failed(id);
        for (let b = m.batches ?? [], i = 0; i + 2 < b.length; i += 3) this.batches(b[i], b[i + 1], b[i + 2]);
        return;
      case 'fatal':
        this.log.error({ err: m.message }, 'order writer thread could not start');
        this.settleWaiters(null, new Error(`order writer: ${m.message}`));
        return;
      case 'ready':
        this.consuming = true;
        this.restartDelay = FIRST_RESTART_MS;
        this.settleWaiters('ready');
        return;
      case 'paused':
        this.consuming = false;
        this.settleWaiters('paused');
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.consuming = false;
    this.inHand = false;
    this.settleWaiters(null, new Error(`order writer thread exited (code ${code})`));
    if (this.stopping) return;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, LAST_RESTART_MS);
    this.log.error({ code, retryInMs: delay }, 'order writer thread exited; starting it again');
    this.cancelPendingRestart = this.schedule(() => {
      this.cancelPendingRestart = null;
      if (this.stopping || this.worker) return;
      // A failed restart ends in another exit, which schedules the next try.
      this.spawn();
      this.wait('ready').catch((err: Error) => this.log.error({ err: err.message }, 'order writer thread did not start again'));
    }, delay);
  }

  private cancelRestart(): void {
    this.cancelPendingRestart?.();
    this.cancelPendingRestart = null;
  }
}
