// The rehearsal before opening runs the purchase path on scratch state: the real shop is untouched by it.
import amqp from 'amqplib';
import { buildTestApp, TestApp, testBackends } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, waitForOrders } from '../helpers/shoppers';

describe.each(testBackends())('rehearsal before opening on $database + $queue', (backend) => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
  });

  it('when the shop starts with a rehearsal, then half its purchases were accepted on scratch state and nothing real changed', async () => {
    t = await buildTestApp({ ...backend, env: { REHEARSAL_REQUESTS: '200' } });

    const rehearsal = t.c.rehearsed();
    expect(rehearsal).toMatchObject({ requests: 200, accepted: 100 });
    const [{ n }] = (await t.c.dataSource.query('SELECT COUNT(*) AS n FROM orders')) as { n: number | string }[];
    expect(Number(n)).toBe(0);
    expect(t.c.services.book.all()).toEqual([]);
    expect(t.c.services.tracker.pendingCount()).toBe(0);
    expect(await t.c.queue.depth()).toBe(0);
    expect(await t.c.queue.deadLetterDepth()).toBe(0);
    if (backend.queue === 'rabbitmq') {
      // The scratch queue (a name of its own next to the real one) and its dead-letter queue are gone.
      expect(rehearsal!.queue).toMatch(new RegExp(`^${t.env.QUEUE_NAME}\\.rehearsal\\.[0-9a-f]{8}$`));
      const conn = await amqp.connect(t.env.AMQP_URL);
      try {
        for (const name of [rehearsal!.queue!, `${rehearsal!.queue}.dead`]) {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          await expect(ch.checkQueue(name)).rejects.toThrow(/NOT_FOUND/);
        }
      } finally {
        await conn.close().catch(() => undefined);
      }
    }
  });

  it('when the shop has rehearsed, then a real sale sells as usual', async () => {
    t = await buildTestApp({ ...backend, env: { REHEARSAL_REQUESTS: '100' } });
    const server = await listen(t.app);
    try {
      const saleId = await createSale(t.c, { stock: 1 });
      const [a, b] = await createShoppers(t.c, 2);

      const first = await buy(server.base, t.c, saleId, a);
      const second = await buy(server.base, t.c, saleId, b);
      await waitForOrders(t.c);

      expect([first.status, second.code]).toEqual([202, 'SOLD_OUT']);
      const orders = await t.c.repos.orders.listBySale(saleId);
      expect(orders.map((o) => o.userId)).toEqual([a.id]);
      expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(0);
    } finally {
      await server.close();
    }
  });
});
