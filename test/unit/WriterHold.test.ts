import type { Logger } from 'pino';
import { PurchasePace } from '../../src/lib/PurchasePace';
import { OrderConsumer } from '../../src/queue/OrderConsumer';
import type { Delivery } from '../../src/queue/OrderQueue';
import type { OrderRepository } from '../../src/repositories/OrderRepository';
import { OrderTracker } from '../../src/services/OrderTracker';
import { HoldSettings, WriterHold } from '../../src/queue/WriterHold';

const SETTINGS: HoldSettings = { maxMs: 1000, windowMs: 50, minPerSecond: 1000 };

/**
 * A hold on a fake clock. `perWindow` says how many orders are accepted during each pause of the writer
 * (the pace at which the shop sells while the writer waits); each pause moves the clock by its length.
 */
function rig(perWindow: (pauseNo: number) => number, settings = SETTINGS) {
  const pace = new PurchasePace();
  let now = 1_000_000;
  const pauses: number[] = [];
  const sell = (n: number) => {
    for (let i = 0; i < n; i++) pace.taken(now);
  };
  const hold = new WriterHold(pace, settings, () => now, async (ms) => {
    pauses.push(ms);
    now += ms;
    sell(perWindow(pauses.length));
  });
  return { hold, pace, pauses, sell, advance: (ms: number) => (now += ms) };
}

describe('PurchasePace', () => {
  it('when orders are accepted, then another view of the same shared memory sees their count and the last time', () => {
    const tracker = new OrderTracker();
    tracker.accepted('r1', 1, 7, 5000);
    tracker.accepted('r2', 1, 8, 5010);

    const elsewhere = new PurchasePace(tracker.pace.buffer);
    expect(elsewhere.count()).toBe(2);
    expect(elsewhere.lastAt()).toBe(5010);
  });
});

describe('WriterHold', () => {
  it('when nothing has been accepted lately, then the writer goes on at once', async () => {
    const r = rig(() => 0);
    r.sell(500);
    r.advance(51);

    await r.hold.wait();

    expect(r.pauses).toEqual([]);
  });

  it('when orders are accepted slower than the threshold, then the writer waits one window only', async () => {
    const r = rig(() => 40); // 800 a second
    r.sell(1);

    await r.hold.wait();

    expect(r.pauses).toEqual([50]);
  });

  it('when the pace stays high, then the writer holds for maxMs, then writes through the rest of the peak', async () => {
    const r = rig(() => 100); // 2,000 a second, without end
    r.sell(1);

    await r.hold.wait();
    expect(r.pauses).toHaveLength(20); // 1,000 ms in windows of 50

    await r.hold.wait();
    await r.hold.wait();
    expect(r.pauses).toHaveLength(20); // this peak's hold is used up: later batches are not held
  });

  it('when the peak ends during the hold, then the writer goes on within a window of the last order', async () => {
    const r = rig((n) => (n <= 6 ? 500 : 0)); // sold out after 300 ms
    r.sell(1);

    await r.hold.wait();

    expect(r.pauses).toHaveLength(7);
  });

  it('when a quiet moment has passed after a peak, then the next peak is held again', async () => {
    let selling = true;
    const r = rig(() => (selling ? 100 : 0));
    r.sell(1);
    await r.hold.wait();
    expect(r.pauses).toHaveLength(20);

    selling = false;
    r.advance(200);
    await r.hold.wait(); // quiet: resets the peak
    selling = true;
    r.sell(1);
    await r.hold.wait();

    expect(r.pauses).toHaveLength(40);
  });

  it('when the writer is stopping, then it does not wait out the hold', async () => {
    let stopping = false;
    const r = rig((n) => {
      if (n === 3) stopping = true;
      return 100;
    });
    r.sell(1);

    await r.hold.wait(() => stopping);

    expect(r.pauses).toHaveLength(3);
  });

  it('when maxMs is 0, then it never holds, whatever the pace', async () => {
    const r = rig(() => 1000, { ...SETTINGS, maxMs: 0 });
    r.sell(1000);

    await r.hold.wait();

    expect(r.pauses).toEqual([]);
  });
});

describe('OrderConsumer with a hold', () => {
  const log = { error: jest.fn(), warn: jest.fn() } as unknown as Logger;

  function delivery(requestId: string) {
    return { body: '', message: { requestId, saleId: 1, userId: 1, at: 0 }, ack: jest.fn(), retry: jest.fn(), deadLetter: jest.fn() } satisfies Delivery;
  }

  it('when the hold has not let go, then nothing is written or acked; once it does, the batch is', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writeBatch = jest.fn(async (messages: { requestId: string }[]) => new Map(messages.map((m) => [m.requestId, 'written'])));
    const orders = { writeBatch } as unknown as OrderRepository;
    const consumer = new OrderConsumer(orders, new OrderTracker(), async () => true, log, { wait: () => held });
    const d = delivery('r1');

    const handled = consumer.handle([d]);
    await new Promise((r) => setImmediate(r));
    expect(writeBatch).not.toHaveBeenCalled();
    expect(d.ack).not.toHaveBeenCalled();
    expect(consumer.busy()).toBe(true);

    release();
    await handled;
    expect(writeBatch).toHaveBeenCalledTimes(1);
    expect(d.ack).toHaveBeenCalledTimes(1);
    expect(consumer.busy()).toBe(false);
  });
});
