// The purchase path's histogram and the quantile the bench reads from two of its readings.
import { Histogram, quantileBetween } from '../../src/lib/Histogram';
import { PurchaseMeter, OUTCOMES } from '../../src/services/PurchaseMeter';

describe('Histogram', () => {
  it('when a value equals a bound, then it counts in that bucket (le is inclusive), and larger ones in +Inf', () => {
    const h = new Histogram([0.001, 0.01]);

    for (const v of [0.0005, 0.001, 0.005, 0.01, 2]) h.observe(v);

    expect([...h.counts]).toEqual([2, 2, 1]);
    expect(h.cumulative()).toEqual([2, 4, 5]);
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(2.0165, 6);
  });

  it('when bounds do not ascend, then it refuses them', () => {
    expect(() => new Histogram([0.01, 0.001])).toThrow(/ascend/);
  });

  it('when the p99 of the observations between two readings is asked, then it is the bound of the bucket it falls in', () => {
    const h = new Histogram([0.001, 0.01, 0.1]);
    for (let i = 0; i < 1000; i++) h.observe(0.0005);
    const before = h.cumulative();
    for (let i = 0; i < 98; i++) h.observe(0.0005);
    h.observe(0.05);
    h.observe(0.05);

    expect(quantileBetween(h.bounds, before, h.cumulative(), 0.99)).toBe(0.1);
    expect(quantileBetween(h.bounds, before, h.cumulative(), 0.5)).toBe(0.001);
    expect(quantileBetween(h.bounds, h.cumulative(), h.cumulative(), 0.99)).toBeNull();
  });
});

describe('PurchaseMeter', () => {
  it('when answers are recorded, then each outcome is counted under its code and every answer is timed', () => {
    let now = 100;
    const meter = new PurchaseMeter(() => now);

    const t0 = meter.now();
    now += 0.08; // 80 µs
    meter.record({ ok: true }, t0);
    meter.record({ ok: false, code: 'SOLD_OUT' }, t0);
    meter.record({ ok: false, code: 'SOLD_OUT' }, t0);
    meter.record({ ok: false, code: 'NO_SUCH_CODE' }, t0);
    meter.failed(t0);

    const counts = meter.counts();
    expect(Object.keys(counts)).toEqual([...OUTCOMES]);
    expect(counts).toMatchObject({ ACCEPTED: 1, SOLD_OUT: 2, INTERNAL: 2, TOO_FAST: 0 });
    expect(meter.acceptedCount()).toBe(1);
    expect(meter.latency.count).toBe(5);
    expect(meter.latency.cumulative()[1]).toBe(5); // all within 100 µs
  });
});
