// The rehearsal before the sales open: purchase requests over loopback HTTP through a scratch copy of the
// purchase path (built by buildPurchasePath like the real one, with its own key, sale, stock, gate, tracker
// and queue), so that V8 has compiled the path when the first real sale opens (docs/PERFORMANCE.md says
// what that is worth). Nothing here touches the real stock, buyers, orders or order queue: the scratch
// queue is deleted afterwards (or expires on the broker), and its orders are never written.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { OrderQueue } from '../queue/OrderQueue';
import type { AccountService } from '../services/AccountService';
import type { CaptchaPool } from '../services/CaptchaPool';
import type { PurchaseFunnel } from '../services/PurchaseFunnel';
import type { SaleBook } from '../services/SaleBook';
import type { TicketService } from '../services/TicketService';
import type { PurchaseController } from './PurchaseController';

/** The scratch copy of the purchase path; built by the container, used once, then dropped. */
export interface ScratchShop {
  controller: PurchaseController;
  funnel: Pick<PurchaseFunnel, 'open' | 'close'>;
  accounts: AccountService;
  tickets: TicketService;
  book: SaleBook;
  /** Connected by the rehearsal (one attempt, no retries) and removed afterwards. */
  queue: OrderQueue & { connect?(): Promise<void>; destroy?(): Promise<void> };
  /** The scratch queue's name on the broker; null for the in-process queue. */
  queueName: string | null;
  /** The scratch captchas' pool (filled by the rehearsal, closed after it), and the answer all of them share. */
  captchaPool: CaptchaPool;
  captchaAnswer: string;
}

export interface RehearsalResult {
  requests: number;
  accepted: number;
  ms: number;
  queue: string | null;
}

const SALE_ID = 1;
const CONCURRENCY = 32;
/** Removing the scratch queue waits on the broker; a broker that stops answering must not hold the start. */
const CLEANUP_MS = 3_000;

export class PurchaseRehearsal {
  constructor(
    private readonly shop: ScratchShop,
    private readonly log: Logger,
  ) {}

  /**
   * Sends `requests` purchases, one per scratch shopper, at a stock of half as many: half are accepted (and
   * published to the scratch queue), half hear SOLD_OUT. Never throws: a rehearsal that fails or runs past
   * `timeoutMs` is logged and the shop opens anyway.
   */
  async run(requests: number, timeoutMs = 15_000): Promise<RehearsalResult | null> {
    if (requests <= 0) return null;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done after ${timeoutMs} ms`)), timeoutMs);
    });
    const server = http.createServer((req, res) => {
      if (!this.shop.controller.tryHandle(req, res)) res.writeHead(404).end();
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    try {
      const accepted = await Promise.race([this.rehearse(server, agent, requests), timeout]);
      const result = { requests, accepted, ms: Date.now() - started, queue: this.shop.queueName };
      if (accepted === Math.ceil(requests / 2)) this.log.info(result, 'rehearsed the purchase path on a scratch sale before opening');
      else this.log.warn({ ...result, expected: Math.ceil(requests / 2) }, 'purchase rehearsal accepted an unexpected number; opening anyway');
      return result;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'purchase rehearsal skipped; opening without it');
      return null;
    } finally {
      clearTimeout(timer);
      agent.destroy();
      server.closeAllConnections();
      server.close();
      this.shop.funnel.close('stopping');
      await this.cleanUp();
    }
  }

  private async cleanUp(): Promise<void> {
    const queue = this.shop.queue;
    const done = (async () => {
      await queue.destroy?.().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await this.shop.captchaPool.close().catch(() => undefined);
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLEANUP_MS);
      timer.unref();
    });
    const outcome = await Promise.race([done.then(() => 'done' as const), late]);
    clearTimeout(timer);
    // The scratch queues expire on the broker by themselves when they could not be removed now.
    if (outcome === 'late') this.log.warn('the rehearsal queue was not removed in time; the broker expires it');
  }

  private async rehearse(server: http.Server, agent: http.Agent, requests: number): Promise<number> {
    const { book, tickets, accounts, funnel, queue, captchaPool, captchaAnswer } = this.shop;
    await (queue.connect ? queue.connect() : queue.start());
    await captchaPool.fill();
    const now = Date.now();
    book.put({ id: SALE_ID, startsAt: now - 1000, endsAt: now + 3600_000, stock: Math.ceil(requests / 2) });
    book.inventory.load(SALE_ID, Math.ceil(requests / 2), []);
    funnel.open();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const port = (server.address() as AddressInfo).port;
    let next = 0;
    let accepted = 0;
    const shopper = async () => {
      while (next < requests) {
        const userId = ++next;
        // A real shopper's login cookie has been opened before the purchase (the sale page, the captcha):
        // opened here too, so that the purchase finds it in the cache, as a real one does.
        const sid = accounts.issueSession(userId);
        accounts.userIdFromSession(sid);
        // The opening's two steps: the challenge, then the purchase with its answer. Once the challenge is
        // refused (sold out), the purchase route is asked anyway, with a ticket, as late shoppers do.
        const challenge = await request(agent, port, `/api/sales/${SALE_ID}/challenge`, { Cookie: `sid=${sid}` });
        const c = challenge.status === 200 ? (JSON.parse(challenge.body) as { path: string; captchaId: string }) : null;
        const bought = c
          ? await request(agent, port, c.path, { Cookie: `sid=${sid}`, 'X-Captcha': `${c.captchaId}.${captchaAnswer}` })
          : await request(agent, port, `/api/sales/${SALE_ID}/buy/${tickets.pathFor(SALE_ID, userId)}`, {
              Cookie: `sid=${sid}`,
              'X-Purchase-Ticket': tickets.issue(SALE_ID, userId),
            });
        if (bought.status === 202) accepted += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, shopper));
    return accepted;
  }
}

function request(agent: http.Agent, port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
