// What the purchase route did, counted where it answers: each outcome (ACCEPTED or a refusal code) and how
// long the answer took. Recording is an increment of a counter bound at construction and a histogram
// observation; the Prometheus series are built from these only when /metrics is read (ShopMetrics).
import { REFUSALS } from '../errors';
import { Histogram } from '../lib/Histogram';

/** Upper bounds in seconds: most answers take tens of microseconds, an accepted one waits for the broker. */
export const PURCHASE_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
] as const;

/** Every outcome the route can answer: acceptance, a draw entry, each refusal of the one table, and an internal error. */
export const OUTCOMES: readonly string[] = ['ACCEPTED', 'ENTERED', ...Object.keys(REFUSALS), 'INTERNAL'];

interface Count {
  n: number;
}

export class PurchaseMeter {
  readonly latency = new Histogram(PURCHASE_SECONDS);
  private readonly accepted: Count = { n: 0 };
  private readonly internal: Count = { n: 0 };
  /** One counter per outcome code, made once: recording never creates one. */
  private readonly byCode = new Map<string, Count>();

  constructor(private readonly clock: () => number = () => performance.now()) {
    for (const code of OUTCOMES) this.byCode.set(code, code === 'ACCEPTED' ? this.accepted : code === 'INTERNAL' ? this.internal : { n: 0 });
  }

  /** A timestamp for `record` (monotonic ms). */
  now(): number {
    return this.clock();
  }

  /** One answer of the purchase route: its outcome and its time since `startedAt` (from now()). */
  record(result: { ok: true; entered?: true } | { ok: false; code: string }, startedAt: number): void {
    if (result.ok) (result.entered ? this.byCode.get('ENTERED')! : this.accepted).n += 1;
    else (this.byCode.get(result.code) ?? this.internal).n += 1;
    this.latency.observe((this.clock() - startedAt) / 1000);
  }

  /** An answer that failed inside the route (500). */
  failed(startedAt: number): void {
    this.internal.n += 1;
    this.latency.observe((this.clock() - startedAt) / 1000);
  }

  acceptedCount(): number {
    return this.accepted.n;
  }

  /** Answers so far by outcome code, every code present (zeros included). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [code, c] of this.byCode) out[code] = c.n;
    return out;
  }
}
