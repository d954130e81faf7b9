// What the order writer has committed, batch by batch, wherever it runs (inline or in its thread): read by the
// shop's metrics and its live dashboard.
import { Histogram } from '../lib/Histogram';
import type { BatchObserver } from './OrderConsumer';

/** Batch sizes of the order writer, in orders. */
export const BATCH_ORDERS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
/** Batch transaction times of the order writer, in seconds. */
export const BATCH_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class WriterStats {
  readonly batchOrders = new Histogram(BATCH_ORDERS);
  readonly batchSeconds = new Histogram(BATCH_SECONDS);
  /** Order rows inserted since the process started. */
  written = 0;

  readonly observe: BatchObserver = (size, seconds, inserted) => {
    this.batchOrders.observe(size);
    this.batchSeconds.observe(seconds);
    this.written += inserted;
  };
}
