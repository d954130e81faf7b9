// Writes queued orders to the database in batches; acks only after the commit. A database outage
// pauses the consumer (messages stay unacked) instead of burning their delivery attempts. While a sale is
// at its peak it first holds back (WriterHold), so that the purchase path has the machine.
import type { Logger } from 'pino';
import { OrderRepository, StockExhaustedError } from '../repositories/OrderRepository';
import { isForeignKeyViolation } from '../repositories/driverErrors';
import type { Delivery, SettlementListener } from './OrderQueue';
import type { WriterHold } from './WriterHold';

/** Told of every committed batch: its orders, the seconds its transaction took, the rows it inserted. */
export type BatchObserver = (size: number, seconds: number, inserted: number) => void;

export class OrderConsumer {
  private stopped = false;
  private inFlight = 0;
  /** Set by release() (a pause or stop): no batch waits on the hold until start() again. */
  private released = false;

  constructor(
    private readonly orders: Pick<OrderRepository, 'writeBatch'>,
    private readonly settled: SettlementListener,
    private readonly databaseUp: () => Promise<boolean>,
    private readonly log: Logger,
    private readonly hold: Pick<WriterHold, 'start' | 'stop' | 'wait'> | null = null,
    private readonly batches: BatchObserver = () => undefined,
  ) {}

  /** Batches in hand right now; zero means every delivered message has been settled. */
  busy(): boolean {
    return this.inFlight > 0;
  }

  /** Starts watching the pace of purchases (for the hold); idempotent. */
  start(): void {
    this.released = false;
    this.hold?.start();
  }

  /** Batches in hand, and those still to come before start(), are written without waiting out the hold. */
  release(): void {
    this.released = true;
  }

  stop(): void {
    this.stopped = true;
    this.release();
    this.hold?.stop();
  }

  readonly handle = async (batch: Delivery[]): Promise<void> => {
    this.inFlight += 1;
    try {
      const valid: Delivery[] = [];
      for (const d of batch) {
        if (d.message) valid.push(d);
        else {
          this.log.error({ body: d.body.slice(0, 200) }, 'malformed order message parked in the dead-letter queue');
          d.deadLetter();
        }
      }
      if (valid.length === 0) return;
      if (this.hold) await this.hold.wait(() => this.released);
      await this.write(valid);
    } finally {
      this.inFlight -= 1;
    }
  };

  private async write(batch: Delivery[]): Promise<void> {
    let delay = 100;
    for (;;) {
      try {
        await this.commit(batch);
        return;
      } catch (err) {
        if (await this.databaseUp()) break;
        if (this.stopped) return; // left unacked: the broker hands them to the next consumer
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'database unavailable; order batch waits');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
    // The database is up, so something in the batch itself is wrong: find it by writing one at a time.
    for (const d of batch) {
      try {
        await this.commit([d]);
      } catch (err) {
        const permanent = err instanceof StockExhaustedError || isForeignKeyViolation(err);
        this.log.error({ err: (err as Error).message, message: d.message, permanent }, 'order message failed');
        if (permanent) {
          this.settled.failed(d.message!.requestId);
          d.deadLetter();
        } else d.retry();
      }
    }
  }

  private async commit(batch: Delivery[]): Promise<void> {
    const startedAt = performance.now();
    const outcome = await this.orders.writeBatch(batch.map((d) => d.message!));
    let inserted = 0;
    for (const o of outcome.values()) if (o === 'inserted') inserted += 1;
    this.batches(batch.length, (performance.now() - startedAt) / 1000, inserted);
    for (const d of batch) {
      const requestId = d.message!.requestId;
      if (outcome.get(requestId) === 'conflict') {
        this.log.warn({ message: d.message }, 'shopper already has an order in this sale; request dropped');
        this.settled.failed(requestId);
      } else this.settled.written(requestId);
      d.ack();
    }
  }
}
