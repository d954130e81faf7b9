// The journey run's inputs and figures for `npm run bench -- --journey`: the captcha pool file the app serves
// (and whose answers the driver knows), and what the driver saw turned into the report's figures.
import { writeFileSync } from 'node:fs';
import { renderCaptcha } from '../../src/lib/captchaImage';
import type { CpuUse } from '../lib/cpu';
import type { JourneyOutcome, Step, StepSummary } from './journey';
import { STEPS } from './journey';

/** What the report compares the journey against; informational only, like the purchase run's targets. */
export const JOURNEY_TARGETS = { ratio: 0.5, stepP99Ms: 50 };

/**
 * Renders `count` distinct captchas with the app's renderer and writes them as the app's CAPTCHA_POOL_FILE
 * (JSON lines of text and base64 PNG). Distinct by picture, so that a picture names one answer.
 */
export function writeCaptchaPool(file: string, count: number, render: () => { text: string; png: Buffer } = () => renderCaptcha()): void {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (let tries = 0; lines.length < count && tries < count * 3; tries += 1) {
    const { text, png } = render();
    const b64 = png.toString('base64');
    if (seen.has(b64)) continue;
    seen.add(b64);
    lines.push(JSON.stringify({ text, png: b64 }));
  }
  if (lines.length < count) throw new Error(`only ${lines.length} distinct captchas of ${count} asked for`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export interface JourneyFigures {
  shoppers: number;
  /** Journeys that ended (bought, or told SOLD_OUT / ALREADY_BOUGHT / ...) per second, from the opening to the last one's end. */
  journeysPerSecond: number | null;
  /** From the first moment a person could have answered (opening + shortest think time) to the last unit accepted. */
  sellOutMs: number | null;
  /** The app's CPU from the first shopper's arrival to the last journey's end, over the shoppers. */
  cpuUsPerJourney: number | null;
  /** The app's resident memory grown over the journey run, scaled to 100,000 shoppers. */
  rssMbPer100kShoppers: number | null;
  steps: Record<Step, StepSummary>;
  /** The purchase-only run's accepted purchases per second while its stock lasted (stock / its sellOutMs). */
  purchaseOnlyContestedRps: number | null;
  /** Journey units sold per second (stock / sellOutMs) over purchaseOnlyContestedRps. */
  ratio: number | null;
  // Context for reading the figures above.
  unitsPerSecond: number | null;
  /** The purchase-only run's responses per second until it sold out (its `contestedRps`), for comparison. */
  purchaseOnlyRequestsPerSecond: number;
  /** The purchase-only run's app CPU per response, beside cpuUsPerJourney. */
  purchaseOnlyCpuUsPerResponse: number | null;
  baselineRps: number | null;
  saleId: number;
  stock: number;
  accepted: number;
  uncertain: number;
  /** Answers per second a crowd of this size offers at most once it thinks: shoppers / (longest - shortest think). */
  offeredAnswersPerSecond: number | null;
  thinkS: [number, number];
  /** How long the app was up before the opening (the shoppers' time on the page). */
  lobbyMs: number;
  /** How each journey ended. */
  ends: Record<string, number>;
  drainMs: number | null;
  rssMb: { before: number | null; after: number | null };
  cpu: CpuUse;
  /** The driver's own event-loop delay: every step's latency includes it. */
  driverLoopDelayMs: { p99: number; max: number };
  /** Answers to the buy route per second from the opening. */
  buysPerSecond: number[];
  unknownCaptchas: number;
  /** Shoppers who held their challenge sealed before the opening and opened it with the key. */
  openedSealed: number;
  timedOut: boolean;
  audit: { ok: boolean; failures: string[] };
}

export interface JourneyInput {
  outcome: JourneyOutcome;
  stock: number;
  saleId: number;
  thinkMinMs: number;
  thinkMaxMs: number;
  lobbyMs: number;
  cpu: CpuUse;
  appPid: number | undefined;
  rssBeforeMb: number | null;
  rssAfterMb: number | null;
  /** Order rows of the sale over time: [epoch ms, count]. */
  drain: [number, number][];
  purchaseOnly: { accepted: number; sellOutMs: number | null; contestedRps: number; cpuUsPerResponse: number | null };
  baselineRps: number | null;
  audit: { ok: boolean; failures: string[] };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export function journeyFigures(f: JourneyInput): JourneyFigures {
  const o = f.outcome;
  const accepted = o.accepted.length;
  const lastAcceptedAt = accepted ? Math.max(...o.accepted.map((a) => a.at)) : null;
  const firstAnswerAt = o.openAt === null ? null : o.openAt + f.thinkMinMs;
  const soldOut = accepted >= f.stock && lastAcceptedAt !== null && firstAnswerAt !== null;
  // At least a millisecond: a tiny stock can be gone in the first one.
  const sellOutMs = soldOut ? Math.max(1, lastAcceptedAt - firstAnswerAt) : null;
  const unitsPerSecond = sellOutMs === null ? null : f.stock / (sellOutMs / 1000);
  const po = f.purchaseOnly;
  const purchaseOnly = po.sellOutMs ? po.accepted / (po.sellOutMs / 1000) : null;
  const finished = Object.entries(o.ends).reduce((n, [how, k]) => (how === 'UNFINISHED' ? n : n + k), 0);
  const journeyS = o.openAt !== null && o.lastEndAt !== null && o.lastEndAt > o.openAt ? (o.lastEndAt - o.openAt) / 1000 : null;
  const drained = f.drain.find(([, n]) => n >= accepted);
  const buysPerSecond: number[] = [];
  for (let i = 0; i < o.buysPer100Ms.length; i += 10) buysPerSecond.push(o.buysPer100Ms.slice(i, i + 10).reduce((a, b) => a + b, 0));
  const spreadS = (f.thinkMaxMs - f.thinkMinMs) / 1000;
  return {
    shoppers: o.shoppers,
    journeysPerSecond: journeyS === null ? null : round(finished / journeyS),
    sellOutMs: sellOutMs === null ? null : Math.round(sellOutMs),
    cpuUsPerJourney: f.appPid === undefined ? null : round((f.cpu.target * f.cpu.seconds * 1e6) / Math.max(1, o.shoppers)),
    rssMbPer100kShoppers: f.rssBeforeMb === null || f.rssAfterMb === null ? null : round(((f.rssAfterMb - f.rssBeforeMb) * 100_000) / Math.max(1, o.shoppers)),
    steps: Object.fromEntries(STEPS.map((s) => [s, o.steps[s]])) as Record<Step, StepSummary>,
    purchaseOnlyContestedRps: purchaseOnly === null ? null : round(purchaseOnly),
    ratio: unitsPerSecond === null || !purchaseOnly ? null : round(unitsPerSecond / purchaseOnly, 3),
    unitsPerSecond: unitsPerSecond === null ? null : round(unitsPerSecond),
    purchaseOnlyRequestsPerSecond: po.contestedRps,
    purchaseOnlyCpuUsPerResponse: po.cpuUsPerResponse,
    baselineRps: f.baselineRps,
    saleId: f.saleId,
    stock: f.stock,
    accepted,
    uncertain: o.uncertain.length,
    offeredAnswersPerSecond: spreadS > 0 ? round(o.shoppers / spreadS) : null,
    thinkS: [f.thinkMinMs / 1000, f.thinkMaxMs / 1000],
    lobbyMs: Math.round(f.lobbyMs),
    ends: o.ends,
    drainMs: accepted > 0 && drained && firstAnswerAt !== null ? Math.round(drained[0] - firstAnswerAt) : null,
    rssMb: { before: f.rssBeforeMb, after: f.rssAfterMb },
    cpu: f.cpu,
    driverLoopDelayMs: o.loopDelayMs,
    buysPerSecond,
    unknownCaptchas: o.unknownCaptchas,
    openedSealed: o.openedSealed,
    timedOut: o.timedOut,
    audit: f.audit,
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The journey's part of the report, figures beside their targets. */
export function journeyReport(j: JourneyFigures): string {
  const mark = (ok: boolean | null) => (ok === null ? '  -  ' : ok ? ' met ' : ' MISS');
  const n = (x: number | null, unit = '') => (x === null ? 'n/a' : `${fmt(x)}${unit}`);
  const rows: [string, string, string, boolean | null][] = [
    ['shoppers', fmt(j.shoppers), '', null],
    ['journeys/s (opening to last end)', n(j.journeysPerSecond), '', null],
    ['accepted (202)', `${fmt(j.accepted)} of ${fmt(j.stock)} stock`, '', null],
    ['sold out after (first answer on)', n(j.sellOutMs, ' ms'), '', null],
    ['units/s, journey', n(j.unitsPerSecond), '', null],
    ['units/s, purchase-only', n(j.purchaseOnlyContestedRps), '', null],
    ['ratio journey / purchase-only', j.ratio === null ? 'n/a' : j.ratio.toFixed(3), `>= ${JOURNEY_TARGETS.ratio}`, j.ratio === null ? null : j.ratio >= JOURNEY_TARGETS.ratio],
  ];
  for (const s of STEPS) {
    const st = j.steps[s];
    rows.push([`${s} p50 / p99 (${fmt(st.count)})`, `${st.p50Ms} / ${st.p99Ms} ms`, `p99 <= ${JOURNEY_TARGETS.stepP99Ms} ms`, st.count === 0 ? null : st.p99Ms <= JOURNEY_TARGETS.stepP99Ms]);
  }
  rows.push(
    ['app cpu per journey', n(j.cpuUsPerJourney, ' µs'), '', null],
    ['app cpu per purchase-only request', n(j.purchaseOnlyCpuUsPerResponse, ' µs'), '', null],
    ['app rss per 100k shoppers', n(j.rssMbPer100kShoppers, ' MB'), '', null],
    ['baseline node:http req/s', n(j.baselineRps), '', null],
  );
  const w = Math.max(12, ...rows.map((x) => x[1].length));
  const lines = [
    `journey (sale ${j.saleId}, think ${j.thinkS[0]}-${j.thinkS[1]} s, ${fmt(j.lobbyMs / 1000, 1)} s on the page before the opening)`,
    `${'figure'.padEnd(36)}${'value'.padEnd(w)}  ${'target'.padEnd(16)}`,
    '-'.repeat(36 + w + 2 + 16 + 5),
  ];
  for (const [name, value, target, ok] of rows) lines.push(`${name.padEnd(36)}${value.padEnd(w)}  ${target.padEnd(16)}${target ? mark(ok) : ''}`);
  const codes = (c: Record<string, number>) =>
    Object.entries(c)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
  lines.push('', `journeys ended: ${codes(j.ends)}`);
  for (const s of STEPS) lines.push(`  ${s.padEnd(9)} answers: ${codes(j.steps[s].codes) || 'none'}; waited for a socket p99 ${j.steps[s].waitP99Ms} ms`);
  lines.push(`challenges opened with the key from a sealed one fetched in the countdown: ${fmt(j.openedSealed)} of ${fmt(j.shoppers)} shoppers`);
  lines.push(`answers to the buy route per second from the opening: ${j.buysPerSecond.map((x) => fmt(x)).join(' ')}`);
  if (j.offeredAnswersPerSecond !== null) {
    lines.push(`the crowd answers at most ~${fmt(j.offeredAnswersPerSecond)} a second (shoppers / think spread): the journey's units/s cannot exceed that`);
  }
  lines.push(`all accepted written ${n(j.drainMs, ' ms')} after the first possible answer; the driver's event loop lagged p99 ${j.driverLoopDelayMs.p99} ms, max ${j.driverLoopDelayMs.max} ms`);
  lines.push(
    `cpu, journey run: server ${j.cpu.target.toFixed(2)}, driver + bench ${j.cpu.generator.toFixed(2)}, RabbitMQ + MariaDB ${j.cpu.backends.toFixed(2)}, other processes ${j.cpu.other.toFixed(2)}, idle ${j.cpu.idle.toFixed(2)} of ${j.cpu.cores} cores over ${j.cpu.seconds} s`,
  );
  if (j.uncertain > 0) lines.push(`${fmt(j.uncertain)} buys answered 503 with an unknown publish outcome (counted as uncertain by the audit)`);
  if (j.unknownCaptchas > 0) lines.push(`WARNING: ${fmt(j.unknownCaptchas)} captcha pictures were not in the pool file (is the app serving CAPTCHA_POOL_FILE?)`);
  if (j.timedOut) lines.push('WARNING: the driver reached its deadline; unfinished journeys are counted as UNFINISHED');
  if (j.cpu.other >= 0.25) lines.push(`WARNING: other processes used ${j.cpu.other.toFixed(2)} cores during the journey run; its figures are not comparable with a quiet run`);
  lines.push(`journey audit: ${j.audit.ok ? 'ok' : `FAILED: ${j.audit.failures.join('; ')}`}`);
  return lines.join('\n');
}
