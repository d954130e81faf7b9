import pino from 'pino';
import { DataSource } from 'typeorm';
import { PurchasePace } from '../../src/lib/PurchasePace';
import { OrderConsumer } from '../../src/queue/OrderConsumer';
import type { Delivery } from '../../src/queue/OrderQueue';
import { HOLD_PROBE, HoldSettings, WriterHold } from '../../src/queue/WriterHold';
import { NewOrder, OrderRepository, WriteOutcome } from '../../src/repositories/OrderRepository';
import { OrderTracker } from '../../src/services/OrderTracker';

const SETTINGS: HoldSettings = { maxMs: 1000, windowMs: 50, minPerSecond: 1000 };

/**
 * A hold on a fake clock, sampled once a window as its timer would. `perWindow(n)` is how many orders the
 * shop accepts in the n-th window (from 1); `run(ms)` lets that much time pass without a batch waiting,
 * and a batch's wait lets time pass the same way, one window at a time.
 */
function rig(perWindow: (windowNo: number) => number, settings = SETTINGS) {
  const pace = new PurchasePace();
  let now = 1_000_000;
  let windows = 0;
  const sell = (n: number) => {
    for (let i = 0; i < n; i++) pace.taken();
  };
  const tick = () => {
    windows += 1;
    sell(perWindow(windows));
    now += settings.windowMs;
    hold.sample();
  };
  const waited: number[] = [];
  const hold: WriterHold = new WriterHold(pace, settings, () => now, async (ms) => {
    waited.push(ms);
    tick();
  });
  hold.sample();
  return {
    hold,
    waited,
    sell,
    run: (ms: number) => {
      for (let t = 0; t < ms; t += settings.windowMs) tick();
    },
  };
}

describe('PurchasePace', () => {
  it('when orders are accepted, then another view of the same shared memory counts them', () => {
    const tracker = new OrderTracker();
    tracker.accepted('r1', 1, 7, 5000);
    tracker.accepted('r2', 1, 8, 5010);

    expect(new PurchasePace(tracker.pace.buffer).count()).toBe(2);
  });
});

describe('WriterHold', () => {
  it('when orders come in slower than the pace, then the writer goes on at once', async () => {
    const r = rig(() => 40); // 800 a second
    r.run(500);

    await r.hold.wait();

    expect(r.waited).toEqual([]);
  });

  it('when the pace stays high, then the writer holds until maxMs from the start of the peak, then writes through it', async () => {
    const r = rig(() => 100); // 2,000 a second, without end
    r.run(200); // the peak began 200 ms ago

    await r.hold.wait();
    expect(r.waited).toHaveLength(16); // the 800 ms left of the hold, in windows of 50

    await r.hold.wait();
    await r.hold.wait();
    expect(r.waited).toHaveLength(16); // this peak's hold is used up: later batches are not held
  });

  it('when the first batch of a peak comes before its first window has closed, then it is held too', async () => {
    const r = rig(() => 500);
    r.sell(60); // more than a window's worth at the pace, within the open window

    await r.hold.wait();

    expect(r.waited).toHaveLength(20);
  });

  it('when the peak ends during the hold, then the writer goes on with the first window below the pace', async () => {
    const r = rig((n) => (n <= 6 ? 500 : 0)); // sold out after 300 ms
    r.sell(60);

    await r.hold.wait();

    expect(r.waited).toHaveLength(7);
  });

  it('when a peak has used up its hold and a quiet spell passed with no batch at all, then the next peak is held again', async () => {
    let selling = true;
    const r = rig(() => (selling ? 100 : 0));
    r.run(100);
    await r.hold.wait();
    expect(r.waited).toHaveLength(18);

    r.run(2000); // still the first peak, whose hold is used up
    selling = false;
    r.run(600_000); // ten minutes with no order and no batch
    selling = true;
    r.run(100); // a new peak
    await r.hold.wait();

    expect(r.waited).toHaveLength(36);
  });

  it('when orders trickle in all along, then a peak out of the trickle is held from its own start', async () => {
    let rate = 2; // 40 a second
    const r = rig(() => rate);
    r.run(60_000);
    rate = 100;
    r.run(100);

    await r.hold.wait();

    expect(r.waited).toHaveLength(18);
  });

  it('when the writer is released, then it stops waiting at its next look', async () => {
    let released = false;
    const r = rig((n) => {
      if (n === 3) released = true;
      return 100;
    });
    r.sell(60);

    await r.hold.wait(() => released);

    expect(r.waited).toHaveLength(3);
  });

  it('when maxMs is 0, then it never holds, whatever the pace', async () => {
    const r = rig(() => 1000, { ...SETTINGS, maxMs: 0 });
    r.run(500);

    await r.hold.wait();

    expect(r.waited).toEqual([]);
  });

  it('when a probe is given, then it counts the windows sampled at the pace and the looks a batch waited', async () => {
    const probe = new Int32Array(new SharedArrayBuffer(HOLD_PROBE.size * Int32Array.BYTES_PER_ELEMENT));
    const r = rig((n) => (n <= 4 ? 100 : 0), { ...SETTINGS, probe }); // 2,000 a second for four windows, then none
    r.run(100);

    await r.hold.wait();

    expect(r.waited).toHaveLength(3); // windows 3 and 4 at the pace, window 5 below it ends the peak
    expect(Atomics.load(probe, HOLD_PROBE.heldLooks)).toBe(3);
    expect(Atomics.load(probe, HOLD_PROBE.peakWindows)).toBe(4);
  });

  it('when the counter wraps around 2^31, then the pace across it is still read right', async () => {
    const pace = new PurchasePace();
    new Int32Array(pace.buffer)[0] = 2 ** 31 - 10;
    let now = 0;
    const hold = new WriterHold(pace, SETTINGS, () => now, async () => undefined);
    hold.sample();
    for (let i = 0; i < 100; i++) pace.taken(); // 2,000 a second over the next window, across the wrap
    now += 50;
    hold.sample();

    let looked = 0;
    await hold.wait(() => ++looked > 2);

    expect(looked).toBe(3); // held until released: the wrap did not read as a negative pace
  });
});

/** An OrderRepository that records each batch it is asked to write and writes nothing anywhere. */
class RecordingOrders extends OrderRepository {
  readonly batches: NewOrder[][] = [];

  constructor() {
    super(new DataSource({ type: 'better-sqlite3', database: ':memory:' })); // never initialised: no query reaches it
  }

  override async writeBatch(orders: NewOrder[]): Promise<Map<string, WriteOutcome>> {
    this.batches.push(orders);
    return new Map(orders.map((o): [string, WriteOutcome] => [o.requestId, 'inserted']));
  }
}

/**
 * A hold in the test's hand: `wait` resolves only when the test calls `look()` (a window passing) and the
 * consumer has released it by then. `entered` resolves when a batch starts waiting.
 */
class HandHeldHold implements Pick<WriterHold, 'start' | 'stop' | 'wait'> {
  starts = 0;
  stops = 0;
  private waiting: { released: () => boolean; resolve: () => void } | null = null;
  private onEnter: (() => void) | null = null;
  readonly entered = new Promise<void>((resolve) => {
    this.onEnter = resolve;
  });

  start(): void {
    this.starts += 1;
  }

  stop(): void {
    this.stops += 1;
  }

  wait(released: () => boolean = () => false): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting = { released, resolve };
      this.onEnter?.();
    });
  }

  /** One window passes: a waiting batch goes on if released. Returns whether it did. */
  look(): boolean {
    if (!this.waiting?.released()) return false;
    this.waiting.resolve();
    this.waiting = null;
    return true;
  }
}

describe('OrderConsumer with a hold', () => {
  const log = pino({ level: 'silent' });

  function delivery(requestId: string) {
    return { body: '', message: { requestId, saleId: 1, userId: 1, at: 0 }, ack: jest.fn(), retry: jest.fn(), deadLetter: jest.fn() } satisfies Delivery;
  }

  function consumerWithHeldWrites() {
    const orders = new RecordingOrders();
    const hold = new HandHeldHold();
    const consumer = new OrderConsumer(orders, new OrderTracker(), async () => true, log, hold);
    return { consumer, orders, hold };
  }

  it('when the hold has not let go, then nothing is written or acked; once released, the batch is', async () => {
    const { consumer, orders, hold } = consumerWithHeldWrites();
    const d = delivery('r1');

    const handled = consumer.handle([d]);
    await hold.entered;
    expect(hold.look()).toBe(false); // a window passes, still held
    expect(orders.batches).toEqual([]);
    expect(d.ack).not.toHaveBeenCalled();
    expect(consumer.busy()).toBe(true);

    consumer.release();
    expect(hold.look()).toBe(true);
    await handled;
    expect(orders.batches).toHaveLength(1);
    expect(d.ack).toHaveBeenCalledTimes(1);
    expect(consumer.busy()).toBe(false);
  });

  it('when the consumer is stopped during a hold, then the batch in hand is written and the sampler stops', async () => {
    const { consumer, orders, hold } = consumerWithHeldWrites();
    consumer.start();
    expect(hold.starts).toBe(1);

    const handled = consumer.handle([delivery('r1')]);
    await hold.entered;
    consumer.stop();
    expect(hold.look()).toBe(true);
    await handled;

    expect(orders.batches).toHaveLength(1);
    expect(hold.stops).toBe(1);
  });
});
