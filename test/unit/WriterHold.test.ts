import type { Logger } from 'pino';
import { PurchasePace } from '../../src/lib/PurchasePace';
import { OrderConsumer } from '../../src/queue/OrderConsumer';
import type { Delivery } from '../../src/queue/OrderQueue';
import { HoldSettings, WriterHold } from '../../src/queue/WriterHold';
import type { OrderRepository } from '../../src/repositories/OrderRepository';
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

describe('OrderConsumer with a hold', () => {
  const log = { error: jest.fn(), warn: jest.fn() } as unknown as Logger;

  function delivery(requestId: string) {
    return { body: '', message: { requestId, saleId: 1, userId: 1, at: 0 }, ack: jest.fn(), retry: jest.fn(), deadLetter: jest.fn() } satisfies Delivery;
  }

  function consumerWithHeldWrites() {
    let released: () => boolean = () => false;
    const hold = {
      start: jest.fn(),
      stop: jest.fn(),
      // Holds until the consumer releases it, looking every millisecond.
      wait: (r: () => boolean) => {
        released = r;
        return new Promise<void>((resolve) => {
          const look = setInterval(() => {
            if (released()) {
              clearInterval(look);
              resolve();
            }
          }, 1);
        });
      },
    };
    const writeBatch = jest.fn(async (messages: { requestId: string }[]) => new Map(messages.map((m) => [m.requestId, 'written'])));
    const consumer = new OrderConsumer({ writeBatch } as unknown as OrderRepository, new OrderTracker(), async () => true, log, hold);
    return { consumer, writeBatch, hold };
  }

  it('when the hold has not let go, then nothing is written or acked; once released, the batch is', async () => {
    const { consumer, writeBatch } = consumerWithHeldWrites();
    const d = delivery('r1');

    const handled = consumer.handle([d]);
    await new Promise((r) => setTimeout(r, 20));
    expect(writeBatch).not.toHaveBeenCalled();
    expect(d.ack).not.toHaveBeenCalled();
    expect(consumer.busy()).toBe(true);

    consumer.release();
    await handled;
    expect(writeBatch).toHaveBeenCalledTimes(1);
    expect(d.ack).toHaveBeenCalledTimes(1);
    expect(consumer.busy()).toBe(false);
  });

  it('when the consumer is stopped during a hold, then the batch in hand is written and the sampler stops', async () => {
    const { consumer, writeBatch, hold } = consumerWithHeldWrites();
    consumer.start();
    expect(hold.start).toHaveBeenCalledTimes(1);

    const handled = consumer.handle([delivery('r1')]);
    await new Promise((r) => setTimeout(r, 20));
    consumer.stop();
    await handled;

    expect(writeBatch).toHaveBeenCalledTimes(1);
    expect(hold.stop).toHaveBeenCalledTimes(1);
  });
});
