// Overload protection: when the event loop falls behind, purchases are shed at once with 503.
import { buildTestApp } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers } from '../helpers/shoppers';
import { waitFor } from '../helpers/waitFor';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the stall this test is about
  }
}

describe('overload protection', () => {
  it('when the event loop lags past the threshold, then purchases get 503 OVERLOADED, and when it recovers they go through', async () => {
    // Stalls well above the threshold, and a threshold well above what a busy machine's timers drift by
    // themselves, so that neither the overload nor the recovery hangs on the machine's mood.
    const t = await buildTestApp({ env: { LAG_THRESHOLD_MS: '100' } });
    const server = await listen(t.app);
    const stall = setInterval(() => spin(300), 10);
    try {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      await waitFor('the event loop lagging past 200 ms', () => t.c.lag.lag() >= 200);

      const shed = await buy(server.base, t.c, saleId, a);

      expect([shed.status, shed.code, shed.retryAfter]).toEqual([503, 'OVERLOADED', '1']);
      expect(t.c.services.book.inventory.remaining(saleId)).toBe(5);

      clearInterval(stall);
      await waitFor('the lag back under the threshold', () => !t.c.lag.overloaded());
      const after = await buy(server.base, t.c, saleId, b);
      expect(after.status).toBe(202);
    } finally {
      clearInterval(stall);
      await server.close();
      await t.close();
    }
  });
});
