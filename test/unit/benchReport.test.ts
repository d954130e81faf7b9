// The bench's per-second report, read from the app's own /metrics text.
import { Histogram } from '../../src/lib/Histogram';
import { WriterStats } from '../../src/queue/WriterStats';
import { OrderTracker } from '../../src/services/OrderTracker';
import { PurchaseMeter } from '../../src/services/PurchaseMeter';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';
import { ShopMetrics } from '../../src/services/ShopMetrics';
import { chartSvg, htmlReport, perSecond, readScrape } from '../../tools/bench/report';

function shop() {
  const meter = new PurchaseMeter(() => 0);
  const metrics = new ShopMetrics('bench:1', {
    meter,
    confirmLatency: new Histogram([0.001]),
    writer: new WriterStats(),
    book: new SaleBook(new MemoryInventory()),
    tracker: new OrderTracker(),
    probe: { read: async () => ({ at: 0, database: true, broker: true, writer: true, queueDepth: 0, deadLetters: 0 }) },
    lag: { lag: () => 0, overloaded: () => false },
    captchas: { available: () => 0, size: 0 },
  });
  return { meter, metrics };
}

describe('the bench report', () => {
  it('when two scrapes a second apart are read, then the second has their accepted, refused and p99', async () => {
    const { meter, metrics } = shop();
    const first = readScrape(await metrics.text(), 0);
    for (let i = 0; i < 99; i++) meter.latency.observe(0.00004);
    meter.latency.observe(0.003);
    for (let i = 0; i < 30; i++) meter.record({ ok: true }, 0);
    for (let i = 0; i < 70; i++) meter.record({ ok: false, code: 'SOLD_OUT' }, 0);

    const second = readScrape(await metrics.text(), 1000);
    const rows = perSecond([first, second]);

    expect(rows).toEqual([{ second: 1, accepted: 30, refused: 70, p99Ms: expect.closeTo(0.05, 9) }]);
  });

  it('when the report is written, then it is one self-contained page with the chart and every second', () => {
    const rows = [
      { second: 1, accepted: 2000, refused: 500, p99Ms: 10 },
      { second: 2, accepted: 0, refused: 7000, p99Ms: 0.25 },
      { second: 3, accepted: 0, refused: 0, p99Ms: null },
    ];

    const html = htmlReport('Bench <x>', [['ratio', '0.7']], rows, 'run.json');

    expect(html).toContain('<title>Bench &lt;x&gt;</title>');
    expect(html).toContain(chartSvg(rows));
    expect(html).toContain('<a href="run.json">');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/<tr><td>\d+<\/td>/g)).toHaveLength(3);
  });
});
