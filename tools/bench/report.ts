// The bench's per-second picture of a run, from the app's own /metrics scraped once a second: purchases
// accepted and refused, and the p99 of the purchase route's latency (as the app measures it, from its
// histogram's buckets); written as a small HTML page with an SVG chart next to the JSON (--report FILE).
import { writeFileSync } from 'node:fs';
import { quantileBetween } from '../../src/lib/Histogram';
import { PURCHASE_SECONDS } from '../../src/services/PurchaseMeter';

export interface Scrape {
  /** ms since the measured run started */
  t: number;
  accepted: number;
  refused: number;
  /** flashsale_purchase_duration_seconds, cumulative per PURCHASE_SECONDS bound, then +Inf. */
  cumulative: number[];
}

export interface SecondRow {
  second: number;
  accepted: number;
  refused: number;
  /** null in a second without answers; Infinity past the last bucket. */
  p99Ms: number | null;
}

const SERIES = /^flashsale_purchase_attempts_total\{([^}]*)\} (\S+)$/;
const BUCKET = /^flashsale_purchase_duration_seconds_bucket\{([^}]*)\} (\S+)$/;

/** The few series the report needs, from the Prometheus text format. */
export function readScrape(text: string, t: number): Scrape {
  let accepted = 0;
  let refused = 0;
  const byLe = new Map<string, number>();
  for (const line of text.split('\n')) {
    let m = SERIES.exec(line);
    if (m) {
      const outcome = /outcome="([^"]+)"/.exec(m[1])?.[1];
      if (outcome === 'ACCEPTED') accepted += Number(m[2]);
      else refused += Number(m[2]);
      continue;
    }
    m = BUCKET.exec(line);
    if (m) byLe.set(/le="([^"]+)"/.exec(m[1])?.[1] ?? '', Number(m[2]));
  }
  const cumulative = [...PURCHASE_SECONDS.map((b) => byLe.get(String(b)) ?? 0), byLe.get('+Inf') ?? 0];
  return { t, accepted, refused, cumulative };
}

/** Scrapes `url` every second until stopped; a failed scrape is skipped (the next one covers its second). */
export class MetricsWatch {
  readonly scrapes: Scrape[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  start(startedAt: number): void {
    this.loop = (async () => {
      for (let i = 0; !this.stopped && i < 3600; i += 1) {
        const due = startedAt + i * 1000;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        if (this.stopped) break;
        try {
          const res = await fetch(this.url, { headers: this.headers, signal: AbortSignal.timeout(900) });
          if (res.ok) this.scrapes.push(readScrape(await res.text(), Date.now() - startedAt));
        } catch {
          // skipped: the next scrape covers this second
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** One row per pair of consecutive scrapes. */
export function perSecond(scrapes: Scrape[]): SecondRow[] {
  const rows: SecondRow[] = [];
  for (let i = 1; i < scrapes.length; i += 1) {
    const a = scrapes[i - 1];
    const b = scrapes[i];
    const p99 = quantileBetween(PURCHASE_SECONDS, a.cumulative, b.cumulative, 0.99);
    rows.push({
      second: Math.round(b.t / 1000),
      accepted: b.accepted - a.accepted,
      refused: b.refused - a.refused,
      p99Ms: p99 === null ? null : p99 * 1000,
    });
  }
  return rows;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The chart: accepted and refused per second on the left axis, p99 (ms, log scale) on the right. */
export function chartSvg(rows: SecondRow[]): string {
  const W = 720;
  const H = 280;
  const L = 60;
  const R = 60;
  const T = 10;
  const B = 52;
  const n = Math.max(rows.length, 1);
  const max = Math.max(1, ...rows.map((r) => Math.max(r.accepted, r.refused)));
  const finite = rows.map((r) => r.p99Ms).filter((v): v is number => v !== null && Number.isFinite(v));
  const pMin = Math.min(0.05, ...finite);
  const pMax = Math.max(10, ...finite);
  const x = (i: number) => L + (n === 1 ? 0 : (i / (n - 1)) * (W - L - R));
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const yp = (v: number) => T + (1 - (Math.log10(v) - Math.log10(pMin)) / (Math.log10(pMax) - Math.log10(pMin))) * (H - T - B);
  const line = (values: (number | null)[], scale: (v: number) => number, color: string, dash = '') => {
    const pts = values.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(i).toFixed(1)},${scale(v).toFixed(1)}`)).filter(Boolean);
    return `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${pts.join(' ')}"/>`;
  };
  const ticks = rows.map((r, i) => `<text x="${x(i).toFixed(1)}" y="${H - B + 13}" font-size="10" text-anchor="middle">${r.second}</text>`).join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" role="img" aria-label="Purchases accepted and refused per second, and p99 latency">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/><line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="#999"/>`,
    `<text x="${L - 6}" y="${T + 8}" font-size="10" text-anchor="end">${max}</text><text x="${L - 6}" y="${H - B}" font-size="10" text-anchor="end">0</text>`,
    `<text x="${W - R + 6}" y="${T + 8}" font-size="10">${pMax.toFixed(pMax < 1 ? 2 : 0)} ms</text><text x="${W - R + 6}" y="${H - B}" font-size="10">${pMin} ms</text>`,
    `<text x="${(L + W - R) / 2}" y="${H - B + 26}" font-size="10" text-anchor="middle">seconds from the first request</text>`,
    ticks,
    line(rows.map((r) => r.accepted), y, '#1f7a3f'),
    line(rows.map((r) => r.refused), y, '#b3261e'),
    line(rows.map((r) => r.p99Ms), yp, '#1d4f91', '5 3'),
    `<g font-size="11" transform="translate(0 ${H - 14})"><rect x="${L}" y="0" width="10" height="10" fill="#1f7a3f"/><text x="${L + 14}" y="9">accepted/s (left)</text>`,
    `<rect x="${L + 130}" y="0" width="10" height="10" fill="#b3261e"/><text x="${L + 144}" y="9">refused/s (left)</text>`,
    `<rect x="${L + 250}" y="0" width="10" height="10" fill="#1d4f91"/><text x="${L + 264}" y="9">p99 of the app's latency (ms, right, log scale, dashed)</text></g>`,
    '</svg>',
  ].join('\n');
}

/** The page: headline figures, the chart, the table; self-contained (no script, no external file). */
export function htmlReport(title: string, figures: [string, string][], rows: SecondRow[], jsonName: string | null): string {
  const p99 = (v: number | null) => (v === null ? '' : Number.isFinite(v) ? `&le; ${v < 1 ? v.toFixed(2) : v.toFixed(0)}` : '&gt; 2500');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:1.5rem;color:#1d1b16;max-width:760px}table{border-collapse:collapse}td,th{padding:.2rem .7rem;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}.figures th{white-space:nowrap;vertical-align:top}.figures td{text-align:left}svg{max-width:100%;height:auto}</style></head>
<body><h1>${esc(title)}</h1>
<table class="figures">${figures.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
<h2>Per second</h2>
<p>Accepted and refused purchases per second and the p99 of the purchase route's latency, read once a second from the app's <code>/metrics</code> (the latency as the app measures it, bounded by its histogram's buckets).${jsonName ? ` Full figures: <a href="${esc(jsonName)}">${esc(jsonName)}</a>.` : ''}</p>
${chartSvg(rows)}
<table><thead><tr><th>second</th><th>accepted</th><th>refused</th><th>p99 (ms)</th></tr></thead><tbody>
${rows.map((r) => `<tr><td>${r.second}</td><td>${r.accepted}</td><td>${r.refused}</td><td>${p99(r.p99Ms)}</td></tr>`).join('\n')}
</tbody></table></body></html>
`;
}

export function writeHtmlReport(file: string, title: string, figures: [string, string][], rows: SecondRow[], jsonName: string | null): void {
  writeFileSync(file, htmlReport(title, figures, rows, jsonName));
}
