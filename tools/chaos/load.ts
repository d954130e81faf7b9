// The chaos drill's shoppers: a Node load client on loopback, a bounded number of requests in flight, paced,
// each shopper retrying after a refusal as a shopper's script would. Every request is logged as
//   accepted  202 with a request id;
//   refused   an answer with a code and no request id (the shop surely did not take it), or a connection
//             refused at connect time (no byte reached the shop);
//   unknown   no answer (reset, hang-up, timeout, a cut body), or a 503 carrying a request id (the shop
//             says itself that the outcome is unknown).
import { createWriteStream, WriteStream } from 'node:fs';
import http from 'node:http';
import { sleep } from '../lib/processes';

export interface LoadShopper {
  userId: number;
  /** `/api/sales/<id>/buy/<secret path>` */
  path: string;
  /** The login cookie as the Cookie header carries it, `<name>=<value>`. */
  cookie: string;
}

export interface LoadOptions {
  baseUrl: string;
  shoppers: LoadShopper[];
  /** A fresh purchase ticket for each attempt, as a solved captcha would give. */
  ticket: (userId: number) => string;
  concurrency: number;
  /** Attempts per second, all shoppers together. */
  ratePerSecond: number;
  /** A shopper waits this long (plus up to as much again, random) before trying again. */
  retryDelayMs: number;
  requestTimeoutMs: number;
  maxAttemptsPerShopper: number;
  /** No new attempt after this long; those in flight still finish. */
  durationMs: number;
  logFile: string;
}

/** Answers after which a shopper stops trying. */
const FINAL = new Set(['SOLD_OUT', 'ALREADY_BOUGHT', 'SALE_ENDED']);

export type Outcome = 'accepted' | 'refused' | 'unknown';

export class LoadClient {
  /** request id -> user id, for every 202. */
  readonly accepted = new Map<string, number>();
  /** request id -> user id, for every 503 that carried a request id. */
  readonly uncertain = new Map<string, number>();
  /** Users with an answerless request (which may or may not have become an order). */
  readonly unknownUsers = new Map<number, number>();
  readonly refusedByCode: Record<string, number> = {};
  readonly unknownByKind: Record<string, number> = {};
  counts = { accepted: 0, refused: 0, unknown: 0, unknownWithoutId: 0 };
  /** Users answered 202 more than once. */
  readonly acceptedTwice = new Set<number>();
  startedAt = 0;
  endedAt = 0;
  /** When the last 202 arrived. */
  lastAcceptedAt = 0;

  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly ready: number[] = [];
  private readHead = 0;
  private readonly attempts: number[];
  private readonly acceptedUsers = new Set<number>();
  private active: number;
  private nextSlot = 0;
  private stopped = false;
  private readonly inFlight = new Map<number, number>(); // serial -> started at
  private serial = 0;
  private readonly log: WriteStream;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly o: LoadOptions) {
    this.url = new URL(o.baseUrl);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(this.url.hostname)) throw new Error('the chaos load goes to loopback only');
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
    this.attempts = new Array(o.shoppers.length).fill(0);
    this.active = o.shoppers.length;
    // Shoppers come in a shuffled order, so no range of user ids is favoured.
    const order = o.shoppers.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    this.ready.push(...order);
    this.log = createWriteStream(o.logFile);
  }

  /** Runs until every shopper is done or the duration is over, and everything in flight has settled. */
  async run(): Promise<void> {
    this.startedAt = Date.now();
    const deadline = this.startedAt + this.o.durationMs;
    const workers = Array.from({ length: this.o.concurrency }, () => this.worker(deadline));
    await Promise.all(workers);
    this.stopped = true;
    this.endedAt = Date.now();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Shoppers still trying. */
  get remaining(): number {
    return this.active;
  }

  /** Resolves once `n` requests were accepted (or the run is over, or `timeoutMs` passed). */
  whenAccepted(n: number, timeoutMs: number): Promise<boolean> {
    if (this.counts.accepted >= n) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.counts.accepted >= n), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(this.counts.accepted >= n)) });
    });
  }

  /** Resolves once every request started before `t` has its outcome (bounded by the request timeout). */
  async settledBefore(t: number): Promise<void> {
    const deadline = Date.now() + this.o.requestTimeoutMs + 2000;
    while ([...this.inFlight.values()].some((s) => s <= t) && Date.now() < deadline) await sleep(10);
  }

  private async worker(deadline: number): Promise<void> {
    while (Date.now() < deadline && this.active > 0) {
      const i = this.take();
      if (i === undefined) {
        await sleep(5);
        continue;
      }
      await this.pace();
      if (Date.now() >= deadline) break;
      await this.attempt(i);
    }
  }

  private take(): number | undefined {
    if (this.readHead >= this.ready.length) return undefined;
    const i = this.ready[this.readHead++];
    if (this.readHead > 4096) {
      this.ready.splice(0, this.readHead);
      this.readHead = 0;
    }
    return i;
  }

  /** Spaces attempts evenly at the configured rate, shared by all workers. */
  private async pace(): Promise<void> {
    const interval = 1000 / this.o.ratePerSecond;
    const now = Date.now();
    this.nextSlot = Math.max(this.nextSlot, now - interval);
    this.nextSlot += interval;
    const wait = this.nextSlot - now;
    if (wait >= 1) await sleep(wait);
  }

  private async attempt(i: number): Promise<void> {
    const s = this.o.shoppers[i];
    this.attempts[i] += 1;
    const id = this.serial++;
    const t0 = Date.now();
    this.inFlight.set(id, t0);
    const answer = await this.post(s);
    this.inFlight.delete(id);
    const t1 = Date.now();
    let outcome: Outcome;
    let code: string;
    let requestId: string | undefined;
    let done = false;
    if ('error' in answer) {
      if (answer.error === 'ECONNREFUSED') {
        outcome = 'refused';
        code = 'CONNECTION_REFUSED';
      } else {
        outcome = 'unknown';
        code = answer.error;
      }
    } else {
      const body = parse(answer.body);
      requestId = typeof body?.requestId === 'string' ? body.requestId : undefined;
      code = typeof body?.code === 'string' ? body.code : `HTTP_${answer.status}`;
      if (answer.status === 202 && requestId) {
        outcome = 'accepted';
        done = true;
      } else if (answer.status >= 400 && requestId) {
        outcome = 'unknown';
      } else if (answer.status >= 400 && typeof body?.code === 'string') {
        outcome = 'refused';
        done = FINAL.has(code);
      } else outcome = 'unknown';
    }
    this.record(s.userId, outcome, code, requestId, answer, t0, t1);
    if (done) this.active -= 1;
    else if (this.attempts[i] >= this.o.maxAttemptsPerShopper) {
      this.active -= 1;
      this.count(this.refusedByCode, 'GAVE_UP (shoppers)');
    } else {
      // A shopper's script: wait a moment, then press Buy again.
      setTimeout(() => {
        this.ready.push(i);
      }, this.o.retryDelayMs * (1 + Math.random()));
    }
  }

  private record(
    userId: number,
    outcome: Outcome,
    code: string,
    requestId: string | undefined,
    answer: Answer,
    t0: number,
    t1: number,
  ): void {
    this.counts[outcome] += 1;
    if (outcome === 'accepted') {
      this.accepted.set(requestId!, userId);
      this.lastAcceptedAt = t1;
      if (this.acceptedUsers.has(userId)) this.acceptedTwice.add(userId);
      this.acceptedUsers.add(userId);
      for (const w of this.waiters.filter((x) => this.counts.accepted >= x.n)) w.resolve();
      this.waiters = this.waiters.filter((x) => this.counts.accepted < x.n);
    } else if (outcome === 'refused') {
      this.count(this.refusedByCode, code);
    } else {
      this.count(this.unknownByKind, requestId ? `${code} (503 with request id)` : code);
      if (requestId) this.uncertain.set(requestId, userId);
      else {
        this.counts.unknownWithoutId += 1;
        this.unknownUsers.set(userId, (this.unknownUsers.get(userId) ?? 0) + 1);
      }
    }
    const status = 'error' in answer ? null : answer.status;
    this.log.write(`${JSON.stringify({ t: t0, ms: t1 - t0, user: userId, outcome, status, code, requestId })}\n`);
  }

  private count(table: Record<string, number>, key: string): void {
    table[key] = (table[key] ?? 0) + 1;
  }

  private post(s: LoadShopper): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const finish = (a: Answer) => {
        if (settled) return;
        settled = true;
        resolve(a);
      };
      const req = http.request({
        host: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: this.url.port,
        path: s.path,
        method: 'POST',
        agent: this.agent,
        headers: {
          cookie: s.cookie,
          'x-purchase-ticket': this.o.ticket(s.userId),
          'content-length': 0,
          accept: 'application/json',
        },
      });
      req.setTimeout(this.o.requestTimeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        // A body cut short (the process died mid-answer) is no answer.
        res.on('aborted', () => finish({ error: 'ABORTED' }));
        res.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? 'RESPONSE_ERROR' }));
      });
      req.end();
    });
  }
}

type Answer = { status: number; body: string } | { error: string };

function parse(body: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(body) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
