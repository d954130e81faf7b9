// How fast purchases are being taken, readable from any thread of the process: the number of orders
// accepted so far and the time of the last one, in shared memory. The thread that takes purchases is the
// only one that writes; the order writer reads it to stay out of the way of a sale at its peak (WriterHold).
// Plain stores, no locks: a reader that sees a value a moment late only holds back a moment more or less.
export class PurchasePace {
  private readonly cells: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT)) {
    this.cells = new Float64Array(buffer);
  }

  /** One order accepted at `at` (epoch ms). */
  taken(at: number): void {
    this.cells[0] += 1;
    this.cells[1] = at;
  }

  /** Orders accepted since the process started. */
  count(): number {
    return this.cells[0];
  }

  /** When the last order was accepted (epoch ms; 0 before the first). */
  lastAt(): number {
    return this.cells[1];
  }
}
