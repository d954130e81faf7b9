// A fixed-bucket histogram cheap enough for the purchase path: observing is a short scan and three additions,
// nothing allocated and no label looked up. Read (and turned into Prometheus series) only when scraped.

export class Histogram {
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  /** `bounds`: the buckets' upper bounds (inclusive, as Prometheus's `le`), ascending. */
  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i += 1) {
      if (!(bounds[i] > bounds[i - 1])) throw new Error('histogram bounds must ascend');
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i += 1;
    this.counts[i] += 1;
    this.sum += value;
    this.count += 1;
  }

  /** Cumulative counts per bound, +Inf last: the `_bucket` series. */
  cumulative(): number[] {
    const out: number[] = [];
    let n = 0;
    for (const c of this.counts) out.push((n += c));
    return out;
  }
}

/**
 * The `q` quantile (0..1) of the observations between two readings of `cumulative()` (`before` may be all
 * zeros): the upper bound of the bucket it falls in, as Prometheus's histogram_quantile would bound it;
 * Infinity past the last bound, null with no observation.
 */
export function quantileBetween(bounds: readonly number[], before: readonly number[], after: readonly number[], q: number): number | null {
  const total = after[after.length - 1] - before[before.length - 1];
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i += 1) if (after[i] - before[i] >= rank) return bounds[i];
  return Infinity;
}
