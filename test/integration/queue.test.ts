// The order queue under trouble: restarts with messages still queued, a lost broker, a poison message.
import { MemoryOrderQueue } from '../../src/queue/MemoryOrderQueue';
import { RabbitOrderQueue } from '../../src/queue/RabbitOrderQueue';
import { HOLD_PROBE, HoldSettings } from '../../src/queue/WriterHold';
import { buildTestApp, TestApp, testBackends } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, waitForOrders } from '../helpers/shoppers';
import { tcpProxy } from '../../tools/lib/tcpProxy';

async function publishRaw(t: TestApp, body: string): Promise<void> {
  const q = t.c.queue;
  if (q instanceof MemoryOrderQueue) q.publishRaw(body);
  else if (q instanceof RabbitOrderQueue) await q.publishRaw(body);
}

/** Polls for something that will happen; fails naming it after `timeoutMs`. */
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(testBackends())('order queue on $database + $queue', (backend) => {
  it('when the app dies with orders still queued, then the next start writes them before reopening the sale', async () => {
    const first = await buildTestApp(backend);
    const server1 = await listen(first.app);
    const saleId = await createSale(first.c, { stock: 30 });
    const shoppers = await createShoppers(first.c, 40);
    await first.c.writer.pause(); // orders pile up in the queue, as when the writer lags

    const results = await Promise.all(shoppers.map((s) => buy(server1.base, first.c, saleId, s)));
    const accepted = results.filter((r) => r.status === 202);
    await server1.close();
    await first.crash();
    expect(accepted).toHaveLength(30);

    const second = await buildTestApp({ ...backend, reuse: first });
    try {
      const orders = await second.c.repos.orders.listBySale(saleId);
      expect(new Set(orders.map((o) => o.requestId))).toEqual(new Set(accepted.map((r) => r.requestId)));
      expect((await second.c.repos.sales.findById(saleId))!.remaining).toBe(0);
      expect(second.c.services.book.inventory.remaining(saleId)).toBe(0);
      const server2 = await listen(second.app);
      const again = await buy(server2.base, second.c, saleId, shoppers[0]);
      await server2.close();
      expect(again.code).toBe('SOLD_OUT');
    } finally {
      await second.close();
    }
  });

  it('when the app restarts mid-sale, then its memory of stock and buyers comes back from the database', async () => {
    const first = await buildTestApp(backend);
    const server1 = await listen(first.app);
    const saleId = await createSale(first.c, { stock: 10 });
    const shoppers = await createShoppers(first.c, 4);
    for (const s of shoppers.slice(0, 3)) expect((await buy(server1.base, first.c, saleId, s)).status).toBe(202);
    await waitForOrders(first.c);
    await server1.close();
    await first.stop();

    const second = await buildTestApp({ ...backend, reuse: first });
    const server2 = await listen(second.app);
    try {
      expect(second.c.services.book.inventory.remaining(saleId)).toBe(7);
      expect((await buy(server2.base, second.c, saleId, shoppers[0])).code).toBe('ALREADY_BOUGHT');
      expect((await buy(server2.base, second.c, saleId, shoppers[3])).status).toBe(202);
      await waitForOrders(second.c);
      expect(await second.c.repos.orders.countBySale(saleId)).toBe(4);
    } finally {
      await server2.close();
      await second.close();
    }
  });

  it('when a malformed message reaches the order queue, then it is parked in the dead-letter queue and the rest are written', async () => {
    const t = await buildTestApp(backend);
    const server = await listen(t.app);
    try {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      await publishRaw(t, '{"requestId": "not-an-order"');
      await publishRaw(t, JSON.stringify({ requestId: 'zzzzzzzz-0000', saleId, userId: -4, at: 1 }));
      expect((await buy(server.base, t.c, saleId, a)).status).toBe(202);
      expect((await buy(server.base, t.c, saleId, b)).status).toBe(202);

      await waitForOrders(t.c);
      await eventually(async () => (await t.c.queue.deadLetterDepth()) === 2);
      expect(await t.c.repos.orders.countBySale(saleId)).toBe(2);
      expect(await t.c.queue.depth()).toBe(0);
    } finally {
      await server.close();
      await t.close();
    }
  });

  it('when the order writer is paused, then /healthz answers 503 naming it, and 200 again once it resumes', async () => {
    const t = await buildTestApp(backend);
    const server = await listen(t.app);
    try {
      const health = async () => {
        const r = await fetch(`${server.base}/healthz`);
        return { status: r.status, writer: ((await r.json()) as { writer: { where: string; up: boolean } }).writer };
      };
      const where = backend.queue === 'rabbitmq' && backend.database === 'mysql' ? 'thread' : 'inline';
      expect(await health()).toEqual({ status: 200, writer: { where, up: true } });
      await t.c.writer.pause();
      expect(await health()).toEqual({ status: 503, writer: { where, up: false } });
      await t.c.writer.start();
      expect(await health()).toEqual({ status: 200, writer: { where, up: true } });
    } finally {
      await server.close();
      await t.close();
    }
  });

  it('when one message carries several orders, one already written and one that cannot be, then the good one is written and the message is parked whole', async () => {
    const t = await buildTestApp(backend);
    try {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      const at = Date.now();
      const first = { requestId: 'batch-aaaa-0001', saleId, userId: a.id, at };
      await publishRaw(t, JSON.stringify([first]));
      await eventually(async () => (await t.c.repos.orders.countBySale(saleId)) === 1);

      const fresh = { requestId: 'batch-aaaa-0002', saleId, userId: b.id, at };
      const noSuchUser = { requestId: 'batch-aaaa-0003', saleId, userId: 2_000_000_000, at };
      await publishRaw(t, JSON.stringify([first, fresh, noSuchUser]));

      await eventually(async () => (await t.c.queue.deadLetterDepth()) === 1);
      const orders = await t.c.repos.orders.listBySale(saleId);
      expect(orders.map((o) => o.requestId).sort()).toEqual(['batch-aaaa-0001', 'batch-aaaa-0002']);
      expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(3);
      expect(await t.c.queue.depth()).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('when a message of several orders comes again after its commit (a crash before the ack), then nothing is written twice', async () => {
    const t = await buildTestApp(backend);
    try {
      const saleId = await createSale(t.c, { stock: 5 });
      const shoppers = await createShoppers(t.c, 3);
      const body = JSON.stringify(shoppers.map((s, i) => ({ requestId: `again-aaaa-000${i}`, saleId, userId: s.id, at: Date.now() })));
      await publishRaw(t, body);
      await eventually(async () => (await t.c.repos.orders.countBySale(saleId)) === 3);
      await publishRaw(t, body);
      await eventually(async () => (await t.c.queue.depth()) === 0 && !t.c.writer.busy());

      expect(await t.c.repos.orders.countBySale(saleId)).toBe(3);
      expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(2);
      expect(await t.c.queue.deadLetterDepth()).toBe(0);
    } finally {
      await t.close();
    }
  });
});

const rabbit = process.env.TEST_AMQP_URL;
(rabbit ? describe : describe.skip)('broker unreachable', () => {
  it('when the broker cannot be reached at purchase time, then 503, the unit goes back and no order is written', async () => {
    const target = new URL(rabbit!);
    const proxy = await tcpProxy(target.hostname, Number(target.port || 5672));
    target.host = `127.0.0.1:${proxy.port}`;
    const t = await buildTestApp({ queue: 'rabbitmq', env: { AMQP_URL: target.toString() } }); // through the relay
    const server = await listen(t.app);
    try {
      const saleId = await createSale(t.c, { stock: 3 });
      const [a, b] = await createShoppers(t.c, 2);
      await proxy.cut();
      await eventually(async () => !t.c.queue.isConnected());

      const refused = await buy(server.base, t.c, saleId, a);

      expect([refused.status, refused.code]).toEqual([503, 'QUEUE_UNAVAILABLE']);
      expect(t.c.services.book.inventory.remaining(saleId)).toBe(3);
      expect(t.c.services.book.inventory.hasBought(saleId, a.id)).toBe(false);

      await proxy.restore();
      await eventually(async () => t.c.queue.isConnected());
      expect((await buy(server.base, t.c, saleId, b)).status).toBe(202);
      await waitForOrders(t.c);
      const orders = await t.c.repos.orders.listBySale(saleId);
      expect(orders.map((o) => o.userId)).toEqual([b.id]);
      expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(2);
    } finally {
      await server.close();
      await t.close();
      await proxy.close();
    }
  });
});

(rabbit ? describe : describe.skip)('publishing to RabbitMQ', () => {
  it('when many orders are published in one turn, then they travel as a few messages and each is confirmed', async () => {
    const t = await buildTestApp({ queue: 'rabbitmq' });
    try {
      const saleId = await createSale(t.c, { stock: 200 });
      const shoppers = await createShoppers(t.c, 150);
      await t.c.writer.pause();
      await Promise.all(
        shoppers.map((s, i) => t.c.queue.publish({ requestId: `turn-aaaa-${String(i).padStart(4, '0')}`, saleId, userId: s.id, at: Date.now() })),
      );
      expect(await t.c.queue.depth()).toBe(3); // 64 + 64 + 22

      await t.c.writer.start();
      await eventually(async () => (await t.c.repos.orders.countBySale(saleId)) === 150);
      expect(await t.c.queue.deadLetterDepth()).toBe(0);
    } finally {
      await t.close();
    }
  });
});

/**
 * A sale at its peak, as the order writer sees it: orders counted as accepted by the main thread (as in the
 * funnel, before they are published) at 10,000 a second until ended. The count catches up with the clock
 * at each tick, so a late timer on a busy machine does not thin the peak out. With a probe, resolves once
 * the writer's hold has sampled a window at the pace (without one there is no sampler to wait for).
 */
async function peakOfPurchases(t: TestApp, probe?: Int32Array): Promise<{ end(): void }> {
  const pace = t.c.services.tracker.pace;
  const began = performance.now();
  let sold = 0;
  const timer = setInterval(() => {
    for (const due = (performance.now() - began) * 10; sold < due; sold++) pace.taken();
  }, 5);
  const peak = { end: () => clearInterval(timer) };
  if (probe) {
    await eventually(() => Atomics.load(probe, HOLD_PROBE.peakWindows) > 0, 15_000, 'the hold sampling a window at the pace').catch(
      (err: Error) => {
        peak.end();
        throw err;
      },
    );
  }
  return peak;
}

async function publishOrders(t: TestApp, saleId: number, userIds: number[], prefix = 'peak-aaaa'): Promise<void> {
  await Promise.all(
    userIds.map((userId, i) => t.c.queue.publish({ requestId: `${prefix}-${String(i).padStart(4, '0')}`, saleId, userId, at: Date.now() })),
  );
}

const written = (t: TestApp, saleId: number) => t.c.repos.orders.countBySale(saleId);

/** Counters the writer's hold keeps in shared memory (HOLD_PROBE), readable here whichever thread it runs in. */
const newProbe = () => new Int32Array(new SharedArrayBuffer(HOLD_PROBE.size * Int32Array.BYTES_PER_ELEMENT));
const heldLooks = (probe: Int32Array) => Atomics.load(probe, HOLD_PROBE.heldLooks);

/**
 * A wide sampling window and a low pace, so that a busy machine's pauses (a late timer in this thread)
 * do not end the peak by themselves; and, where a test needs the hold to last, a hold that outlasts it,
 * so that only the end of the peak, a pause or a stop can let the writer go.
 */
const HOLD: Partial<HoldSettings> = { windowMs: 500, minPerSecond: 20 };
const OUTLASTS_THE_TEST_MS = 10 * 60_000;

/** Rejects, naming `what`, if `work` has not settled within `ms` (it should long before). */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the order writer during a peak of purchases', () => {
  const writers = [
    ...(rabbit && process.env.TEST_DATABASE_URL ? [{ where: 'thread', database: 'mysql' as const }] : []),
    ...(rabbit ? [{ where: 'inline', database: 'sqlite' as const }] : []),
  ];

  (writers.length > 0 ? describe.each(writers) : describe.skip.each([{ where: 'none', database: 'sqlite' as const }]))(
    'on RabbitMQ, writer $where',
    ({ where, database }) => {
      it('when orders pour in, then the batch is held unwritten while the peak lasts, and all are written once it ends', async () => {
        const probe = newProbe();
        const writerHold = { ...HOLD, maxMs: OUTLASTS_THE_TEST_MS, probe };
        const t = await buildTestApp({ database, queue: 'rabbitmq', writerHold });
        try {
          expect(t.c.writer.where).toBe(where);
          const saleId = await createSale(t.c, { stock: 40 });
          const shoppers = await createShoppers(t.c, 40);
          const peak = await peakOfPurchases(t, probe);
          try {
            await publishOrders(t, saleId, shoppers.map((s) => s.id));
            await eventually(() => heldLooks(probe) >= 2, 15_000, 'the writer holding the batch for two windows');
            expect(t.c.writer.busy()).toBe(true);
            expect(await written(t, saleId)).toBe(0);
          } finally {
            peak.end();
          }
          await eventually(async () => (await written(t, saleId)) === 40, 15_000, 'all 40 orders written after the peak');
          expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(0);
        } finally {
          await t.close();
        }
      });

      it('when WRITER_HOLD_MS is 0, then orders are written during the peak without the writer waiting once', async () => {
        const probe = newProbe();
        const t = await buildTestApp({ database, queue: 'rabbitmq', env: { WRITER_HOLD_MS: '0' }, writerHold: { ...HOLD, probe } });
        const saleId = await createSale(t.c, { stock: 40 });
        const shoppers = await createShoppers(t.c, 40);
        const peak = await peakOfPurchases(t);
        try {
          await publishOrders(t, saleId, shoppers.map((s) => s.id));
          await eventually(async () => (await written(t, saleId)) === 40, 15_000, 'all 40 orders written during the peak');

          expect(heldLooks(probe)).toBe(0);
        } finally {
          peak.end();
          await t.close();
        }
      });

      it('when the writer is paused during a held peak, then the batch in hand is written at once, the pause returns, and the rest follows on resume', async () => {
        const probe = newProbe();
        const t = await buildTestApp({ database, queue: 'rabbitmq', writerHold: { ...HOLD, maxMs: OUTLASTS_THE_TEST_MS, probe } });
        const peak = await peakOfPurchases(t, probe);
        try {
          const saleId = await createSale(t.c, { stock: 40 });
          const shoppers = await createShoppers(t.c, 40);
          await publishOrders(t, saleId, shoppers.slice(0, 20).map((s) => s.id));
          await eventually(() => heldLooks(probe) >= 1, 15_000, 'the writer holding the first batch');
          // A second message behind it, still to come when the writer is paused.
          await publishOrders(t, saleId, shoppers.slice(20).map((s) => s.id), 'peak-bbbb');
          expect(await written(t, saleId)).toBe(0);

          // The hold outlasts the test: only the pause can let the batch in hand go.
          await within(20_000, 'the pause', t.c.writer.pause());
          // The batch in hand is written; the message behind it is written too if it was delivered before the
          // pause (the consumer flushes what it holds), or waits in the queue otherwise.
          expect(await written(t, saleId)).toBeGreaterThanOrEqual(20);

          peak.end();
          await t.c.writer.start();
          await eventually(async () => (await written(t, saleId)) === 40, 15_000, 'the rest written after the resume');
        } finally {
          peak.end();
          await t.close();
        }
      });
    },
  );

  it('when the queue is the in-process one, then the writer never holds, whatever WRITER_HOLD_MS says', async () => {
    const probe = newProbe();
    const t = await buildTestApp({ database: 'sqlite', queue: 'memory', env: { WRITER_HOLD_MS: '10000' }, writerHold: { ...HOLD, probe } });
    const peak = await peakOfPurchases(t);
    try {
      const saleId = await createSale(t.c, { stock: 40 });
      const shoppers = await createShoppers(t.c, 40);
      await publishOrders(t, saleId, shoppers.map((s) => s.id));
      await eventually(async () => (await written(t, saleId)) === 40, 15_000, 'all 40 orders written');

      expect(heldLooks(probe)).toBe(0);
    } finally {
      peak.end();
      await t.close();
    }
  });
});

const both = process.env.TEST_DATABASE_URL && process.env.TEST_AMQP_URL;
(both ? describe : describe.skip)('order writer thread (MariaDB + RabbitMQ)', () => {
  it('when the writer thread dies with orders queued, then it is started again and every accepted order is written', async () => {
    const t = await buildTestApp({ database: 'mysql', queue: 'rabbitmq' });
    const server = await listen(t.app);
    try {
      expect(t.c.writer.where).toBe('thread');
      const saleId = await createSale(t.c, { stock: 10 });
      const shoppers = await createShoppers(t.c, 12);
      await t.c.writer.pause();
      const results = await Promise.all(shoppers.map((s) => buy(server.base, t.c, saleId, s)));
      const accepted = results.filter((r) => r.status === 202);
      expect(accepted).toHaveLength(10);

      // As if the thread hit a fatal error: terminated from outside, nothing settled.
      await (t.c.writer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();

      await waitForOrders(t.c);
      const orders = await t.c.repos.orders.listBySale(saleId);
      expect(new Set(orders.map((o) => o.requestId))).toEqual(new Set(accepted.map((r) => r.requestId)));
      expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(0);
    } finally {
      await server.close();
      await t.close();
    }
  });
});
