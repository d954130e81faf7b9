// Sale pages and the small JSON endpoints the sale page's script uses around the purchase itself.
import type { Request, Response } from 'express';
import { REFUSALS, refused } from '../errors';
import type { AbuseMonitor } from '../services/AbuseMonitor';
import type { CaptchaService } from '../services/CaptchaService';
import type { CatalogService, SaleView } from '../services/CatalogService';
import type { SaleBook } from '../services/SaleBook';
import type { TicketService } from '../services/TicketService';
import { parse, parseId, ticketSchema } from './validation';

export class SaleController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly book: SaleBook,
    private readonly captchas: CaptchaService,
    private readonly tickets: TicketService,
    /** Wrong answers here count toward the automatic blacklist, as they do with the purchase. */
    private readonly abuse: Pick<AbuseMonitor, 'record'>,
  ) {}

  index = async (_req: Request, res: Response): Promise<void> => {
    const sales = await this.catalog.listSales();
    const order = { live: 0, upcoming: 1, sold_out: 2, ended: 3 };
    sales.sort((a, b) => order[a.phase] - order[b.phase] || a.startsAt.getTime() - b.startsAt.getTime());
    res.render('sales/index', { title: 'Flash sales', sales });
  };

  show = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    // The same HTML for everyone; the script corrects the figures from the JSON state on load.
    res.set('Cache-Control', 'public, max-age=5, stale-while-revalidate=30');
    res.render('sales/show', { title: sale.product.name, sale, publicPage: true });
  };

  /** The server's clock, so the page can count down without trusting the shopper's. */
  time = (_req: Request, res: Response): void => {
    res.set('Cache-Control', 'no-store').json({ now: Date.now() });
  };

  /** The dynamic part of a sale page: phase, units left, and whether this shopper has bought. */
  state = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    res.set('Cache-Control', 'no-store').json({
      ...this.stateOf(sale, req.userId),
      csrfToken: res.locals.csrfToken,
      user: req.user ? { nickName: req.user.nickName, role: req.user.role } : null,
    });
  };

  /** The secret purchase path, handed out only once the sale has started. */
  path = async (req: Request, res: Response): Promise<void> => {
    const saleId = parseId(req.params.id, 'sale id');
    const outOfWindow = this.book.windowRefusal(saleId, Date.now());
    if (outOfWindow) throw refused(outOfWindow);
    const path = `/api/sales/${saleId}/buy/${this.tickets.pathFor(saleId, req.userId!)}`;
    res.set('Cache-Control', 'no-store').json({ ok: true, path });
  };

  captcha = async (req: Request, res: Response): Promise<void> => {
    const saleId = parseId(req.params.id, 'sale id');
    const outOfWindow = this.book.windowRefusal(saleId, Date.now());
    if (outOfWindow) throw refused(outOfWindow);
    const captcha = this.captchas.issue(req.userId!, saleId);
    if (captcha === 'too_many') throw refused(REFUSALS.CAPTCHA_RATE_LIMITED);
    if (!captcha) throw refused(REFUSALS.CAPTCHA_BUSY);
    res.set('Cache-Control', 'no-store').json({ ok: true, captchaId: captcha.id, image: captcha.image, expiresAt: captcha.expiresAt });
  };

  /** A right captcha answer buys a single-use purchase ticket for this shopper and this sale. */
  ticket = async (req: Request, res: Response): Promise<void> => {
    const saleId = parseId(req.params.id, 'sale id');
    const outOfWindow = this.book.windowRefusal(saleId, Date.now());
    if (outOfWindow) throw refused(outOfWindow);
    const { captchaId, answer } = parse(ticketSchema, req.body);
    const check = this.captchas.check(captchaId, req.userId!, saleId, answer);
    if (check === 'wrong') {
      this.abuse.record('captcha_wrong', req.userId!, req.ip ?? '', Date.now());
      throw refused(REFUSALS.CAPTCHA_WRONG);
    }
    if (check === 'early') throw refused(REFUSALS.CAPTCHA_EARLY);
    if (check !== 'ok') throw refused(REFUSALS.CAPTCHA_EXPIRED);
    res.set('Cache-Control', 'no-store').json({ ok: true, ticket: this.tickets.issue(saleId, req.userId!) });
  };

  private stateOf(sale: SaleView, userId: number | undefined) {
    return {
      id: sale.id,
      phase: sale.phase,
      left: sale.left,
      stock: sale.stock,
      startsAt: sale.startsAt.getTime(),
      endsAt: sale.endsAt.getTime(),
      now: Date.now(),
      bought: userId !== undefined && this.book.inventory.hasBought(sale.id, userId),
      loggedIn: userId !== undefined,
      allocation: sale.allocation,
      draw: sale.allocation === 'draw' ? this.drawOf(sale, userId) : null,
    };
  }

  /** A draw sale's public facts, and this shopper's entry: 'none', 'entered', 'won' or 'lost'. */
  private drawOf(sale: SaleView, userId: number | undefined) {
    return {
      at: sale.drawAt,
      phase: sale.drawPhase,
      commitment: sale.drawCommitment,
      seed: sale.drawPhase === 'drawn' ? sale.drawSeed : null,
      winners: sale.drawPhase === 'drawn' ? sale.drawWinners : null,
      entry: userId === undefined ? 'none' : this.book.draws.entryState(sale.id, userId),
    };
  }
}
