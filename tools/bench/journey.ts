// The journey driver of `npm run bench -- --journey`: every shopper loads the sale's state while waiting on the
// page, fetches its challenge (the secret path and a captcha) sealed at a random moment of the countdown's
// last part and the key that opens it at the opening (or, arriving too late for that, asks for the challenge
// at the opening), thinks, answers and buys in one request, then polls its order until it is confirmed. Runs as its own process, started by the bench with a
// plan file; writes what it saw to the plan's result file. See docs/PERFORMANCE.md, "The journey".
import { createDecipheriv } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** What the bench hands the driver (a JSON file). Times are epoch ms on this machine's clock. */
export interface JourneyPlan {
  baseUrl: string;
  saleId: number;
  /** One login cookie (the `sid` value) per line, shopper i on line i. */
  shoppersFile: string;
  /** The captcha pool file given to the app: JSON lines of `{"text","png"}`, png in base64. */
  poolFile: string;
  /** Shoppers open the page at uniform moments between these two. */
  arriveFrom: number;
  arriveUntil: number;
  thinkMinMs: number;
  thinkMaxMs: number;
  /** The app's CHALLENGE_SEAL_SECONDS in ms: how long before the opening it hands out sealed challenges. */
  sealLeadMs: number;
  /** Keep-alive sockets to the app, at most. */
  sockets: number;
  /** At this moment the driver stops whatever is left and writes what it has. */
  deadlineAt: number;
  resultFile: string;
  /** The login cookie's name in the journey's app. */
  cookieName: string;
}

export const STEPS = ['state', 'sealed', 'key', 'challenge', 'buy', 'status'] as const;
export type Step = (typeof STEPS)[number];

export interface StepSummary {
  /** From the request's making (a socket free for it) to its whole answer. */
  p50Ms: number;
  p99Ms: number;
  count: number;
  /** Time the request waited for one of the driver's bounded sockets before it was sent. */
  waitP99Ms: number;
  /** Answers by code (`OK`, `ACCEPTED`, `NOT_STARTED`, `pending`, ...). */
  codes: Record<string, number>;
}

/** What the driver saw; the bench turns it into figures. */
export interface JourneyOutcome {
  shoppers: number;
  /** The sale's opening, from the sale state the shoppers read (epoch ms). */
  openAt: number | null;
  steps: Record<Step, StepSummary>;
  accepted: { id: string; at: number }[];
  /** 503s that carried a request id: the publish outcome was unknown. */
  uncertain: string[];
  /** How each shopper's journey ended: CONFIRMED, SOLD_OUT, ALREADY_BOUGHT, PENDING (never confirmed), ... */
  ends: Record<string, number>;
  /** When the last journey ended (epoch ms). */
  lastEndAt: number | null;
  /** When the first shopper held a readable challenge (epoch ms). */
  firstChallengeAt: number | null;
  /** Shoppers who opened a challenge sealed during the countdown, of all who held one at the opening. */
  openedSealed: number;
  /** Answers given to the buy route per 100 ms from the opening, all codes. */
  buysPer100Ms: number[];
  /** The driver's own event-loop delay: measured latencies include it. */
  loopDelayMs: { p99: number; max: number };
  /** Captcha images whose answer the pool file did not know (should be 0). */
  unknownCaptchas: number;
  timedOut: boolean;
}

/** p50/p99 of a list of samples (nearest rank); 0 for no samples. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summariseStep(latencies: number[], waits: number[], codes: Record<string, number>): StepSummary {
  const l = Float64Array.from(latencies).sort();
  const w = Float64Array.from(waits).sort();
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50Ms: r(percentile(l, 50)), p99Ms: r(percentile(l, 99)), count: l.length, waitP99Ms: r(percentile(w, 99)), codes };
}

/** The think time's range from `--think`, "2-6" or "3" (seconds). */
export function parseThink(text: string): { minMs: number; maxMs: number } {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(min >= 0 && max >= min && max <= 600)) throw new Error('--think must be seconds "MIN-MAX" (0 <= MIN <= MAX <= 600), e.g. 2-6');
  return { minMs: Math.round(min * 1000), maxMs: Math.round(max * 1000) };
}

/** The answers of the pool file, by the image's base64. */
/** Opens a sealed challenge (`iv | ciphertext | tag`, base64) with the sale's key (base64), as the page does. */
export function unseal(sealed: string, key: string): Record<string, unknown> {
  const box = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), box.subarray(0, 12));
  decipher.setAuthTag(box.subarray(box.length - 16));
  const plain = Buffer.concat([decipher.update(box.subarray(12, box.length - 16)), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
}

export function readAnswers(poolFile: string): Map<string, string> {
  const answers = new Map<string, string>();
  for (const line of readFileSync(poolFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const { text, png } = JSON.parse(line) as { text: string; png: string };
    answers.set(png, text);
  }
  return answers;
}

const IMAGE_PREFIX = 'data:image/png;base64,';
/** Any one request gives up after this long (counted as TIMEOUT, retried like a network error). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Bounds on every loop of a shopper: each retry loop and each journey is finite in count as well as time. */
const MAX_RETRIES = 20;
const MAX_NOT_STARTED = 40;
const MAX_CHALLENGES = 3;
const MAX_STATUS_POLLS = 60;

interface Reply {
  status: number;
  code: string;
  body: Record<string, unknown>;
  retryAfterMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const between = (a: number, b: number) => a + (b - a) * Math.random();

/** Runs every shopper's journey against the app; resolves with what it saw (at the deadline at the latest). */
export async function runJourney(plan: JourneyPlan, cookies: string[], answers: Map<string, string>): Promise<JourneyOutcome> {
  const url = new URL(plan.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: plan.sockets, maxFreeSockets: plan.sockets });
  const byStep = <T>(make: () => T) => Object.fromEntries(STEPS.map((s) => [s, make()])) as Record<Step, T>;
  const lat = byStep<number[]>(() => []);
  const waits = byStep<number[]>(() => []);
  const codes = byStep<Record<string, number>>(() => ({}));
  const ends: Record<string, number> = {};
  const accepted: { id: string; at: number }[] = [];
  const uncertain: string[] = [];
  const buyTimes: number[] = [];
  let openAt: number | null = null;
  let firstChallengeAt: number | null = null;
  let lastEndAt: number | null = null;
  let unknownCaptchas = 0;
  let openedSealed = 0;
  let stopped = false;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const count = (step: Step, code: string) => (codes[step][code] = (codes[step][code] ?? 0) + 1);

  // The driver's own queue of requests waiting for a socket: a request is made only once a socket is free, so
  // that a crowd pressing at the same moment costs the driver a promise each, not an HTTP request object each
  // at once (made all at once, they stalled the driver's event loop for seconds at the opening).
  let free = plan.sockets;
  const queue: (() => void)[] = [];
  let head = 0;
  const slot = (): Promise<void> | null => {
    if (free > 0) {
      free -= 1;
      return null;
    }
    return new Promise<void>((resolve) => queue.push(resolve));
  };
  const release = (): void => {
    if (head < queue.length) {
      const next = queue[head];
      head += 1;
      if (head > 4096 && head * 2 > queue.length) queue.splice(0, head), (head = 0);
      next();
    } else free += 1;
  };

  async function call(step: Step, method: 'GET' | 'POST', path: string, cookie: string, extra?: Record<string, string>): Promise<Reply> {
    const queued = performance.now();
    const wait = slot();
    if (wait) await wait;
    try {
      return await send(step, method, path, cookie, queued, extra);
    } finally {
      release();
    }
  }

  function send(step: Step, method: 'GET' | 'POST', path: string, cookie: string, queued: number, extra?: Record<string, string>): Promise<Reply> {
    return new Promise((resolve) => {
      const sent = performance.now();
      const headers: Record<string, string> = { accept: 'application/json', cookie: `${plan.cookieName}=${cookie}`, ...extra };
      if (method === 'POST') headers['content-length'] = '0';
      const req = http.request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          lat[step].push(performance.now() - sent);
          waits[step].push(sent - queued);
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // not JSON: the status says what happened
          }
          const status = res.statusCode ?? 0;
          const code = typeof body.code === 'string' ? body.code : step === 'status' && typeof body.status === 'string' ? body.status : status < 300 ? 'OK' : `HTTP_${status}`;
          count(step, code);
          resolve({ status, code, body, retryAfterMs: (Number(res.headers['retry-after']) || 0) * 1000 });
        });
        res.on('error', () => resolve(failed(step, 'NETWORK')));
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(failed(step, e.message === 'timeout' ? 'TIMEOUT' : 'NETWORK')));
      req.end();
    });
  }

  function failed(step: Step, code: string): Reply {
    count(step, code);
    return { status: 0, code, body: {}, retryAfterMs: 1000 };
  }

  /** Sleeps, but never past the deadline; false once the deadline has come. */
  async function wait(ms: number): Promise<boolean> {
    const left = plan.deadlineAt - Date.now();
    await sleep(Math.min(ms, left));
    return !stopped && Date.now() < plan.deadlineAt;
  }

  function end(how: string): void {
    ends[how] = (ends[how] ?? 0) + 1;
    lastEndAt = Date.now();
  }

  /** Answers after which a shopper tries the same step again, after Retry-After (1 s when none). */
  const RETRY = new Set(['BUSY', 'OVERLOADED', 'STARTING', 'CAPTCHA_BUSY', 'IP_RATE_LIMITED', 'TOO_FAST', 'NETWORK', 'TIMEOUT', 'HTTP_502', 'HTTP_503', 'HTTP_500']);

  async function shopper(i: number): Promise<void> {
    const cookie = cookies[i];
    if (!(await wait(between(plan.arriveFrom, plan.arriveUntil) - Date.now()))) return end('UNFINISHED');

    // The page: the sale's state, once, as the page's script loads it.
    let state: Record<string, unknown> | null = null;
    let offset = 0;
    for (let k = 0; k < MAX_RETRIES && state === null; k += 1) {
      const t0 = Date.now();
      const r = await call('state', 'GET', `/api/sales/${plan.saleId}`, cookie);
      if (r.status === 200) {
        state = r.body;
        offset = Number(state.now) - (t0 + Date.now()) / 2;
      } else if (!(await wait(r.retryAfterMs || 1000))) return end('UNFINISHED');
    }
    if (state === null) return end('NO_STATE');
    if (state.bought) return end('ALREADY_BOUGHT');
    if (state.phase === 'sold_out' || state.phase === 'ended') return end(state.phase === 'sold_out' ? 'SOLD_OUT' : 'SALE_ENDED');
    const startsAt = Number(state.startsAt);
    openAt ??= startsAt;
    // The sealed challenge, at a random moment from the seal's lead (or the arrival) to 2 s before the
    // opening, as the page fetches it; a shopper who arrives later asks for the challenge at the opening.
    const sealFrom = Math.max(Date.now() + offset, startsAt - plan.sealLeadMs + 1000);
    let sealed: string | null = null;
    if (plan.sealLeadMs > 0 && startsAt - 2000 > sealFrom) {
      if (!(await wait(between(sealFrom, startsAt - 2000) - offset - Date.now()))) return end('UNFINISHED');
      const r = await call('sealed', 'POST', `/api/sales/${plan.saleId}/challenge`, cookie);
      if (r.status === 200 && typeof r.body.sealed === 'string') sealed = r.body.sealed;
    }
    // The page's countdown presses at the opening by its own clock, which is off by up to a quarter second.
    if (!(await wait(startsAt - offset + between(-250, 250) - Date.now()))) return end('UNFINISHED');

    /** The key: the same small answer for everyone; too early is asked again every 250 ms. */
    async function open(box: string): Promise<Reply | 'unfinished' | null> {
      for (let early = 0, busy = 0; ; ) {
        const r = await call('key', 'GET', `/api/sales/${plan.saleId}/key`, cookie);
        if (r.status === 200) return { ...r, body: unseal(box, String(r.body.key)) };
        if (r.code === 'NOT_STARTED' && early++ < MAX_NOT_STARTED) {
          if (!(await wait(250))) return 'unfinished';
        } else if (RETRY.has(r.code) && busy++ < MAX_RETRIES) {
          if (!(await wait(r.retryAfterMs || 1000))) return 'unfinished';
        } else return null;
      }
    }

    for (let round = 0; round < MAX_CHALLENGES; round += 1) {
      let challenge: Reply | null = null;
      if (round === 0 && sealed !== null) {
        const opened = await open(sealed);
        if (opened === 'unfinished') return end('UNFINISHED');
        if (opened) openedSealed += 1;
        challenge = opened;
      }
      // The challenge: too early is retried every 250 ms as the page does, a busy shop after Retry-After;
      // asked a moment before the opening by the shop's clock, it comes sealed and the key opens it.
      for (let early = 0, busy = 0; challenge === null; ) {
        const r = await call('challenge', 'POST', `/api/sales/${plan.saleId}/challenge`, cookie);
        if (r.status === 200 && typeof r.body.sealed === 'string') {
          const opened = await open(r.body.sealed);
          if (opened === 'unfinished') return end('UNFINISHED');
          if (opened === null) return end('KEY_REFUSED');
          challenge = opened;
        } else if (r.status === 200) challenge = r;
        else if (r.code === 'NOT_STARTED' && early++ < MAX_NOT_STARTED) {
          if (!(await wait(250))) return end('UNFINISHED');
        } else if (RETRY.has(r.code) && busy++ < MAX_RETRIES) {
          if (!(await wait(r.retryAfterMs || 1000))) return end('UNFINISHED');
        } else return end(r.code);
      }
      firstChallengeAt ??= Date.now();
      const image = String(challenge.body.image ?? '');
      const text = image.startsWith(IMAGE_PREFIX) ? answers.get(image.slice(IMAGE_PREFIX.length)) : undefined;
      if (text === undefined) {
        unknownCaptchas += 1;
        return end('UNKNOWN_CAPTCHA');
      }
      // A person reads the picture and types.
      if (!(await wait(between(plan.thinkMinMs, plan.thinkMaxMs)))) return end('UNFINISHED');

      let buy: Reply | null = null;
      for (let busy = 0; buy === null; ) {
        const r = await call('buy', 'POST', String(challenge.body.path), cookie, { 'x-captcha': `${String(challenge.body.captchaId)}.${text}` });
        buyTimes.push(Date.now());
        if (RETRY.has(r.code) && !(r.status === 503 && typeof r.body.requestId === 'string') && busy++ < MAX_RETRIES) {
          if (!(await wait(r.retryAfterMs || 1000))) return end('UNFINISHED');
        } else buy = r;
      }
      const requestId = typeof buy.body.requestId === 'string' ? buy.body.requestId : null;
      if (buy.status === 202 && requestId) accepted.push({ id: requestId, at: Date.now() });
      else if (requestId) uncertain.push(requestId);
      else if (buy.code === 'CAPTCHA_EXPIRED' || buy.code === 'CAPTCHA_WRONG' || buy.code === 'PATH_INVALID') continue;
      else return end(buy.code);

      // The order: polled until the shop says it is confirmed (or failed).
      for (let k = 0; k < MAX_STATUS_POLLS; k += 1) {
        if (!(await wait(between(500, 1000)))) return end('PENDING');
        const r = await call('status', 'GET', `/api/orders/${encodeURIComponent(requestId)}`, cookie);
        if (r.code === 'confirmed') return end('CONFIRMED');
        if (r.code === 'failed') return end('FAILED');
      }
      return end('PENDING');
    }
    return end('CAPTCHA_GIVEN_UP');
  }

  const deadline = setTimeout(() => (stopped = true), Math.max(0, plan.deadlineAt - Date.now()));
  const progress = setInterval(() => {
    const done = Object.values(ends).reduce((a, b) => a + b, 0);
    process.stdout.write(`progress ${JSON.stringify({ pages: lat.state.length, sealed: codes.sealed.OK ?? 0, challenges: (codes.key.OK ?? 0) + (codes.challenge.OK ?? 0), buys: buyTimes.length, accepted: accepted.length, done })}\n`);
  }, 1000);
  try {
    await Promise.all(cookies.map((_, i) => shopper(i)));
  } finally {
    clearTimeout(deadline);
    clearInterval(progress);
    loop.disable();
    agent.destroy();
  }
  const buysPer100Ms: number[] = [];
  if (openAt !== null) {
    for (const t of buyTimes) {
      const k = Math.floor((t - openAt) / 100);
      if (k < 0 || k > 100_000) continue;
      while (buysPer100Ms.length <= k) buysPer100Ms.push(0);
      buysPer100Ms[k] += 1;
    }
  }
  const steps = Object.fromEntries(STEPS.map((s) => [s, summariseStep(lat[s], waits[s], codes[s])])) as Record<Step, StepSummary>;
  return {
    shoppers: cookies.length,
    openAt,
    steps,
    accepted,
    uncertain,
    ends,
    lastEndAt,
    firstChallengeAt,
    openedSealed,
    buysPer100Ms,
    loopDelayMs: { p99: Math.round(loop.percentile(99) / 1e4) / 100, max: Math.round(loop.max / 1e4) / 100 },
    unknownCaptchas,
    timedOut: Date.now() >= plan.deadlineAt,
  };
}

if (require.main === module) {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as JourneyPlan;
  const cookies = readFileSync(plan.shoppersFile, 'utf8').split('\n').filter((l) => l !== '');
  runJourney(plan, cookies, readAnswers(plan.poolFile)).then(
    (outcome) => {
      writeFileSync(plan.resultFile, `${JSON.stringify(outcome)}\n`);
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`journey: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
