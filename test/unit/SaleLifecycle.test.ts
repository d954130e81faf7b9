// A sale's lifecycle in the info log and its summary, on a clock and a timer the test drives.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Repeat } from '../../src/lib/LagMonitor';
import { OrderTracker } from '../../src/services/OrderTracker';
import { PurchaseMeter } from '../../src/services/PurchaseMeter';
import { SaleLifecycle, SaleRecordings } from '../../src/services/SaleLifecycle';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';

const OPENS = Date.UTC(2030, 0, 1, 12);

function rig(stock = 2) {
  let now = OPENS - 5000;
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info', base: undefined },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const book = new SaleBook(new MemoryInventory());
  book.put({ id: 1, startsAt: OPENS, endsAt: OPENS + 60_000, stock });
  book.inventory.load(1, stock, []);
  const tracker = new OrderTracker(undefined, () => now);
  const meter = new PurchaseMeter(() => 0);
  const asked: number[] = [];
  const recordings = async (saleId: number): Promise<SaleRecordings> => {
    asked.push(saleId);
    return { ordersWritten: stock, lastOrderAt: null, audit: { ok: true, failures: [] } };
  };
  let tick: (() => void) | null = null;
  const repeat: Repeat = (t) => {
    tick = t;
    return () => {
      tick = null;
    };
  };
  const lifecycle = new SaleLifecycle(book, tracker, meter, recordings, log, () => now, repeat);
  const events = () => lines.map((l) => l.event).filter(Boolean);
  return {
    book,
    tracker,
    meter,
    lifecycle,
    lines,
    events,
    asked,
    at: (ms: number) => {
      now = ms;
      tick?.();
    },
    /** A purchase accepted at `ms`: the unit reserved, the request tracked, the route's answer counted. */
    sell(userId: number, ms: number) {
      now = ms;
      book.inventory.tryReserve(1, userId);
      tracker.accepted(`req-${userId}`, 1, userId, ms);
      meter.record({ ok: true }, 0);
    },
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('SaleLifecycle', () => {
  it('when a sale opens, sells out and its orders are written, then opened, sold out after N ms and a summary are logged', async () => {
    const r = rig(2);
    r.lifecycle.start();
    expect(r.events()).toEqual([]);

    r.at(OPENS + 10);
    r.sell(1, OPENS + 120);
    r.meter.record({ ok: false, code: 'TOO_FAST' }, 0);
    r.sell(2, OPENS + 480);
    r.meter.record({ ok: false, code: 'SOLD_OUT' }, 0);
    r.at(OPENS + 500);
    await flush();
    expect(r.events()).toEqual(['sale_opened', 'sale_sold_out']);
    expect(r.asked).toEqual([]); // two orders still pending: no summary yet

    r.tracker.written('req-1');
    r.tracker.written('req-2');
    r.at(OPENS + 750);
    await flush();

    const soldOut = r.lines.find((l) => l.event === 'sale_sold_out')!;
    expect(soldOut).toMatchObject({ saleId: 1, stock: 2, afterMs: 480, msg: 'sale sold out after 480 ms' });
    const summary = r.lines.find((l) => l.event === 'sale_summary')!;
    expect(summary).toMatchObject({ saleId: 1, stock: 2, accepted: 2, sellOutMs: 480, refused: { TOO_FAST: 1, SOLD_OUT: 1 }, ordersWritten: 2, audit: { ok: true } });
    expect(r.lifecycle.summary(1)).toMatchObject({ sellOutMs: 480 });
  });

  it('when a sale ends with stock left, then ended is logged with what sold and the summary says it did not sell out', async () => {
    const r = rig(5);
    r.lifecycle.start();
    r.at(OPENS + 1);
    r.sell(1, OPENS + 100);
    r.tracker.written('req-1');

    r.at(OPENS + 60_000);
    await flush();

    expect(r.events()).toEqual(['sale_opened', 'sale_ended', 'sale_summary']);
    expect(r.lines.find((l) => l.event === 'sale_ended')).toMatchObject({ saleId: 1, sold: 1, left: 4 });
    expect(r.lifecycle.summary(1)).toMatchObject({ accepted: 1, sellOutMs: null });
  });

  it('when the process starts after a sale ended, then nothing is logged and its summary is taken only when asked', async () => {
    const r = rig(2);
    r.at(OPENS + 120_000);
    r.lifecycle.start();
    await flush();
    expect(r.events()).toEqual([]);

    const summary = await r.lifecycle.ensureSummary(1);

    expect(summary).toMatchObject({ saleId: 1, ordersWritten: 2, refused: {} });
    expect(r.events()).toEqual([]);
  });
});
