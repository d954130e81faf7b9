// How many orders the process has accepted, readable from any thread: one counter in shared memory. The
// thread that takes purchases adds to it; the order writer samples it to stay out of the way of a sale at
// its peak (WriterHold). A 32-bit counter that wraps around: readers take differences, `(a - b) | 0`.
export class PurchasePace {
  private readonly cells: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.cells = new Int32Array(buffer);
  }

  /** One more order accepted. */
  taken(): void {
    Atomics.add(this.cells, 0, 1);
  }

  /** Orders accepted so far, modulo 2^32. */
  count(): number {
    return Atomics.load(this.cells, 0);
  }
}
