// The shop's dependencies read from outside the purchase path: database up, broker up, writer up, queue depth
// and dead letters. One reading serves everyone who asks within `maxAgeMs` (a scrape, every open dashboard),
// so watchers add no load of their own; a dependency that hangs counts as down after `timeoutMs`.
import type { OrderQueue } from '../queue/OrderQueue';
import type { OrderWriter } from '../queue/OrderWriter';

export interface ProbeReading {
  /** When it was taken (epoch ms). */
  at: number;
  database: boolean;
  broker: boolean;
  writer: boolean;
  /** Messages waiting in the order queue; null when it could not be read. */
  queueDepth: number | null;
  /** Messages parked in the dead-letter queue; null when it could not be read. */
  deadLetters: number | null;
}

export class ShopProbe {
  private last: ProbeReading | null = null;
  private reading: Promise<ProbeReading> | null = null;

  constructor(
    private readonly database: { ping(): Promise<boolean> },
    private readonly queue: Pick<OrderQueue, 'depth' | 'deadLetterDepth' | 'isConnected'>,
    private readonly writer: Pick<OrderWriter, 'isUp'>,
    private readonly maxAgeMs = 900,
    private readonly timeoutMs = 1000,
    private readonly clock: () => number = Date.now,
  ) {}

  read(): Promise<ProbeReading> {
    if (this.last && this.clock() - this.last.at < this.maxAgeMs) return Promise.resolve(this.last);
    this.reading ??= this.take().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async take(): Promise<ProbeReading> {
    const [database, queueDepth, deadLetters] = await Promise.all([
      this.bounded(this.database.ping(), false),
      this.bounded(this.queue.depth(), null),
      this.bounded(this.queue.deadLetterDepth(), null),
    ]);
    this.last = { at: this.clock(), database, broker: this.queue.isConnected(), writer: this.writer.isUp(), queueDepth, deadLetters };
    return this.last;
  }

  private bounded<T, F>(work: Promise<T>, fallback: F): Promise<T | F> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<F>((resolve) => {
      timer = setTimeout(() => resolve(fallback), this.timeoutMs);
      timer.unref();
    });
    return Promise.race([work.catch(() => fallback), late]).finally(() => clearTimeout(timer));
  }
}
