// The live dashboard's sampler on a clock and a timer the test drives: one reading for every watcher.
import type { Repeat } from '../../src/lib/LagMonitor';
import { LiveSampler, LiveSources, Watcher } from '../../src/services/LiveSampler';
import { OrderTracker } from '../../src/services/OrderTracker';
import { PurchaseMeter } from '../../src/services/PurchaseMeter';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';
import type { ProbeReading } from '../../src/services/ShopProbe';

const OPENS = Date.UTC(2030, 0, 1, 12);

function rig() {
  let now = OPENS + 1000;
  let reads = 0;
  let tick: (() => void) | null = null;
  let timers = 0;
  const book = new SaleBook(new MemoryInventory());
  book.put({ id: 1, startsAt: OPENS, endsAt: OPENS + 60_000, stock: 100 });
  book.inventory.load(1, 100, []);
  const meter = new PurchaseMeter(() => 0);
  const reading: ProbeReading = { at: 0, database: true, broker: true, writer: true, queueDepth: 3, deadLetters: 0 };
  const sources: LiveSources = {
    book,
    meter,
    tracker: new OrderTracker(),
    probe: { read: async () => ((reads += 1), reading) },
    lag: { lag: () => 4.25 },
    lifecycle: { phase: () => 'live', sellOutMs: () => null, summary: () => null, ensureSummary: async () => null },
  };
  const repeat: Repeat = (t) => {
    timers += 1;
    tick = t;
    return () => {
      tick = null;
    };
  };
  const sampler = new LiveSampler(sources, () => now, repeat);
  const watcher = () => {
    const frames: string[] = [];
    const w: Watcher & { frames: string[]; ended: boolean } = { frames, ended: false, send: (f) => void frames.push(f), end: () => void (w.ended = true) };
    return w;
  };
  return {
    book,
    meter,
    sampler,
    watcher,
    reads: () => reads,
    timers: () => timers,
    ticking: () => tick !== null,
    async second() {
      now += 1000;
      await sampler.sample();
    },
  };
}

const samples = (frames: string[]) => frames.filter((f) => f.startsWith('event: sample')).map((f) => JSON.parse(f.split('\ndata: ')[1]));
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('LiveSampler', () => {
  it('when two admins watch a sale, then each sample is read once and the same frame goes to both', async () => {
    const r = rig();
    const a = r.watcher();
    const b = r.watcher();
    r.sampler.watch(1, a);
    r.sampler.watch(1, b);
    await flush();
    const readsBefore = r.reads();

    await r.second();

    expect(r.timers()).toBe(1);
    expect(r.reads()).toBe(readsBefore + 1);
    expect(a.frames.at(-1)).toBe(b.frames.at(-1));
    expect(a.frames[0]).toMatch(/^retry: 3000\nevent: history\ndata: \[\]/);
  });

  it('when purchases happen between samples, then the rates are per second, by code, and the figures follow', async () => {
    const r = rig();
    const a = r.watcher();
    r.sampler.watch(1, a);
    await flush();

    for (let u = 1; u <= 30; u++) r.book.inventory.tryReserve(1, u);
    for (let i = 0; i < 12; i++) r.meter.record({ ok: false, code: 'TOO_FAST' }, 0);
    await r.second();

    const last = samples(a.frames).at(-1);
    expect(last).toMatchObject({ saleId: 1, left: 70, sold: 30, acceptedPerSecond: 30, refusedPerSecond: { TOO_FAST: 12 }, refusedTotal: { TOO_FAST: 12 } });
    expect(last).toMatchObject({ queueDepth: 3, lagMs: 4.3, health: { database: true, broker: true, writer: true } });
  });

  it('when the last watcher leaves, then sampling stops; when the shop stops, every stream is ended', async () => {
    const r = rig();
    const a = r.watcher();
    const leave = r.sampler.watch(1, a);
    leave();
    expect(r.ticking()).toBe(false);

    const b = r.watcher();
    r.sampler.watch(1, b);
    r.sampler.stop();

    expect(b.ended).toBe(true);
    expect(r.ticking()).toBe(false);
    expect(r.sampler.watcherCount()).toBe(0);
  });

  it('when a watcher arrives in the middle of a sale, then it first gets the samples so far', async () => {
    const r = rig();
    r.sampler.watch(1, r.watcher());
    await flush();
    await r.second();

    const late = r.watcher();
    r.sampler.watch(1, late);

    const history = JSON.parse(late.frames[0].split('\ndata: ')[1]);
    expect(history).toHaveLength(2);
  });
});
