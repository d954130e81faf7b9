// The purchase request and the few requests of the opening, served on node:http directly, before Express:
// Express's own overhead would cost these routes most of their throughput, and they are what the shop is
// judged on. It matches the URL, hands the request to the funnel (services/PurchaseFunnel) and writes its
// answer. No body is read: the sale id and secret path are in the URL, the ticket in a header, the shopper in
// the login cookie. Anything else, or anything these routes cannot answer from memory, goes on to Express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Refusal } from '../errors';
import type { OriginRequest } from '../lib/originCheck';
import type { AccountService } from '../services/AccountService';
import type { OrderTracker } from '../services/OrderTracker';
import type { PurchaseMeter } from '../services/PurchaseMeter';
import type { Challenge, OpeningKey, PurchaseFunnel, PurchaseResult, RequestReader, SealedChallenge } from '../services/PurchaseFunnel';

/**
 * `POST /api/sales/:id/buy/:path` (the purchase), `/api/sales/:id/challenge` (its path and captcha) or
 * `/api/sales/:id/challenge/wait` (its path and the check without a picture).
 */
const ROUTE = /^\/api\/sales\/(\d{1,9})\/(?:buy\/([\w-]{1,64})|challenge(\/wait)?)$/;
/** `GET /api/sales/:id/key`: the key of the challenges sealed during the countdown, from the opening on. */
const KEY_ROUTE = /^\/api\/sales\/(\d{1,9})\/key$/;
/** `GET /api/orders/:requestId`: an order's status, answered here while the process still remembers it. */
const ORDER_ROUTE = /^\/api\/orders\/([\w-]{8,36})$/;

/** A ready answer: its status, its header list and its body, built once and sent as they are. */
interface Canned {
  status: number;
  headers: string[];
  body: string;
}

function canned(status: number, body: string, retryAfterSeconds?: number): Canned {
  const headers = ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store'];
  if (retryAfterSeconds) headers.push('Retry-After', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return { status, headers, body };
}

/** Each refusal (code and Retry-After) has one answer, so refusing builds nothing per request. */
const refusals = new Map<string, Canned>();
function refusalAnswer(r: Refusal): Canned {
  const key = r.retryAfterSeconds ? `${r.code}:${r.retryAfterSeconds}` : r.code;
  let c = refusals.get(key);
  if (!c) {
    c = canned(r.status, JSON.stringify({ ok: false, code: r.code, message: r.message }), r.retryAfterSeconds);
    // Retry-After takes a bounded set of values (seconds left of a configured window), but stay bounded anyway.
    if (refusals.size < 1024) refusals.set(key, c);
  }
  return c;
}

const INTERNAL = canned(500, '{"ok":false,"code":"INTERNAL","message":"Something went wrong."}');
const ACCEPTED_HEAD = '{"ok":true,"code":"ACCEPTED","requestId":"';
const ACCEPTED_TAIL = '","message":"Order accepted."}';
/** Request ids are UUIDs, 36 characters: every acceptance has the same length, so the same headers. */
const ACCEPTED_HEADERS = canned(202, `${ACCEPTED_HEAD}${'0'.repeat(36)}${ACCEPTED_TAIL}`).headers;

/** What the status route reads: the shopper from the login cookie, the request from the tracker. */
export interface StatusSources {
  read: RequestReader<IncomingMessage>;
  accounts: Pick<AccountService, 'userIdFromSession'>;
  tracker: Pick<OrderTracker, 'get'>;
}

export class PurchaseController {
  constructor(
    private readonly funnel: PurchaseFunnel<IncomingMessage>,
    private readonly status: StatusSources,
    private readonly meter: PurchaseMeter,
  ) {}

  /** True when the request is one of these routes (and has been answered); false to pass it on to Express. */
  readonly tryHandle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url!;
    if (req.method === 'GET') return this.tryGet(url, req, res);
    if (req.method !== 'POST' || !url.startsWith('/api/sales/')) return false;
    const m = ROUTE.exec(url);
    if (!m) return false;
    // No body is read: Node discards an unread one once the answer is sent, and keeps the connection.
    try {
      if (m[2] === undefined) {
        answerChallenge(res, this.funnel.challenge(Number(m[1]), req, m[3] !== undefined));
        return true;
      }
      return this.purchase(Number(m[1]), m[2], req, res);
    } catch {
      fail(res);
    }
    return true;
  };

  /** The purchase, timed and counted by outcome (PurchaseMeter) from here to its answer. */
  private purchase(saleId: number, path: string, req: IncomingMessage, res: ServerResponse): true {
    const meter = this.meter;
    const startedAt = meter.now();
    try {
      const result = this.funnel.attempt(saleId, path, req);
      // Most requests are answered synchronously, without a promise.
      if (result instanceof Promise) {
        result
          .then(
            (r) => {
              meter.record(r, startedAt);
              answer(res, r);
            },
            () => {
              meter.failed(startedAt);
              fail(res);
            },
          )
          .catch(() => fail(res));
      } else {
        meter.record(result, startedAt);
        answer(res, result);
      }
    } catch {
      meter.failed(startedAt);
      fail(res);
    }
    return true;
  }

  private tryGet(url: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (url.startsWith('/api/orders/')) return this.tryOrderStatus(url, req, res);
    if (!url.startsWith('/api/sales/')) return false;
    const m = KEY_ROUTE.exec(url);
    if (!m) return false;
    answerKey(res, this.funnel.openingKey(Number(m[1])));
    return true;
  }

  /** Answers from memory when the process knows the request and it is this shopper's; else Express (and the database). */
  private tryOrderStatus(url: string, req: IncomingMessage, res: ServerResponse): boolean {
    const m = ORDER_ROUTE.exec(url);
    if (!m) return false;
    const { read, accounts, tracker } = this.status;
    const userId = accounts.userIdFromSession(read.sessionToken(req), Date.now());
    const tracked = userId === null ? undefined : tracker.get(m[1]);
    if (!tracked || tracked.userId !== userId) return false;
    const body = JSON.stringify({ ok: true, requestId: m[1], saleId: tracked.saleId, status: tracked.state });
    res.writeHead(200, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store']);
    res.end(body);
    return true;
  }
}

/**
 * How the funnel reads a node:http request: the client's address under the configured proxy trust, the
 * login cookie by its configured name, and the shop's Origin check.
 */
export function httpRequestReader(
  clientIp: (req: IncomingMessage) => string,
  sessionCookie: string,
  sameSite: (req: OriginRequest) => boolean,
): RequestReader<IncomingMessage> {
  const session = new RegExp(`(?:^|;\\s*)${sessionCookie.replace(/[^\w]/g, '\\$&')}=([^;]+)`);
  return {
    clientIp,
    // A cross-site page cannot set the ticket header without a CORS preflight we never grant; this refuses the rest.
    isSameSite: sameSite,
    sessionToken(req) {
      const cookie = req.headers.cookie;
      const token = cookie ? session.exec(cookie)?.[1] : undefined;
      return token ? cookieValue(token) : undefined;
    },
    ticket(req) {
      const ticket = req.headers['x-purchase-ticket'];
      return typeof ticket === 'string' ? ticket : '';
    },
    captchaAnswer(req) {
      const answer = req.headers['x-captcha'];
      return typeof answer === 'string' && answer.length <= 64 ? answer : '';
    },
  };
}

function answer(res: ServerResponse, result: PurchaseResult): void {
  if (result.ok && 'entered' in result) {
    const drawAt = new Date(result.drawAt).toISOString();
    const body = JSON.stringify({ ok: true, code: 'ENTERED', drawAt: result.drawAt, message: `You are in the draw; results at ${drawAt.slice(11, 19)} UTC.` });
    return reply(res, canned(202, body));
  }
  if (result.ok) {
    const body = ACCEPTED_HEAD + result.requestId + ACCEPTED_TAIL;
    if (result.requestId.length === 36) {
      res.writeHead(202, ACCEPTED_HEADERS);
      res.end(body);
    } else reply(res, canned(202, body));
    return;
  }
  if (result.requestId) {
    const body = JSON.stringify({ ok: false, code: result.code, message: result.message, requestId: result.requestId });
    return reply(res, canned(result.status, body, result.retryAfterSeconds));
  }
  refuse(res, result);
}

function answerChallenge(res: ServerResponse, result: Challenge | SealedChallenge | Refusal): void {
  if (!result.ok) return refuse(res, result);
  const body = JSON.stringify(result);
  res.writeHead(200, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store']);
  res.end(body);
}

/** The key is the same for everyone once the sale has opened: caches may keep it (not the refusal before). */
function answerKey(res: ServerResponse, result: OpeningKey | Refusal): void {
  if (!result.ok) return refuse(res, result);
  const body = JSON.stringify(result);
  res.writeHead(200, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'public, max-age=60']);
  res.end(body);
}

function fail(res: ServerResponse): void {
  if (!res.headersSent) reply(res, INTERNAL);
}

/** Our cookies are base64url and never escaped; a malformed escape is simply no cookie. */
function cookieValue(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function refuse(res: ServerResponse, r: Refusal): void {
  reply(res, refusalAnswer(r));
}

function reply(res: ServerResponse, c: Canned): void {
  res.writeHead(c.status, c.headers);
  res.end(c.body);
}
