// Purchase tickets: what a right captcha answer is exchanged for. Signed, so issuing them keeps no state;
// single-use, so a spent ticket (unique by its random nonce) is remembered until it would have expired.
import { KeyObject, randomBytes } from 'node:crypto';
import { deriveKey, mac, sameBytes } from '../lib/SignedToken';

const BODY = 4 + 4 + 8 + 8; // saleId, userId, expiresAt, nonce
const MAC = 16;
const TOKEN_LENGTH = Math.ceil(((BODY + MAC) * 4) / 3);
const PATH = /^[\w-]{16}$/;

export type TicketCheck = 'ok' | 'invalid' | 'expired' | 'used';

export class TicketService {
  private readonly ticketKey: KeyObject;
  private readonly pathKey: KeyObject;
  private readonly used = new Map<string, number>();
  /** A double from the start, like the timestamps it will hold: the field keeps one shape (see buildPurchasePath). */
  private sweptAt = -Infinity;

  constructor(
    masterKey: Buffer,
    readonly ttlMs = 120_000,
  ) {
    this.ticketKey = deriveKey(masterKey, 'flash-sale purchase ticket');
    this.pathKey = deriveKey(masterKey, 'flash-sale purchase path');
  }

  issue(saleId: number, userId: number, now = Date.now()): string {
    const body = Buffer.allocUnsafe(BODY);
    body.writeUInt32BE(saleId, 0);
    body.writeUInt32BE(userId, 4);
    body.writeDoubleBE(now + this.ttlMs, 8);
    randomBytes(8).copy(body, 16);
    return Buffer.concat([body, mac(this.ticketKey, body, MAC)]).toString('base64url');
  }

  /** Checks and, when valid, spends the ticket: a second call with the same ticket answers 'used'. */
  redeem(ticket: string, saleId: number, userId: number, now = Date.now()): TicketCheck {
    if (typeof ticket !== 'string' || ticket.length !== TOKEN_LENGTH) return 'invalid';
    const raw = Buffer.from(ticket, 'base64url');
    if (raw.length !== BODY + MAC) return 'invalid';
    const body = raw.subarray(0, BODY);
    if (!sameBytes(mac(this.ticketKey, body, MAC), raw.subarray(BODY))) return 'invalid';
    if (body.readUInt32BE(0) !== saleId || body.readUInt32BE(4) !== userId) return 'invalid';
    const expiresAt = body.readDoubleBE(8);
    if (expiresAt <= now) return 'expired';
    if (this.used.has(ticket)) return 'used';
    this.used.set(ticket, expiresAt);
    this.sweep(now);
    return 'ok';
  }

  /** The secret purchase path of one shopper for one sale; handed out only once the sale is open. */
  pathFor(saleId: number, userId: number): string {
    return mac(this.pathKey, `${saleId}:${userId}`, 12).toString('base64url');
  }

  isPath(saleId: number, userId: number, path: string): boolean {
    // 16 base64url characters are exactly 12 bytes, one string for each: compare the bytes.
    if (typeof path !== 'string' || !PATH.test(path)) return false;
    return sameBytes(mac(this.pathKey, `${saleId}:${userId}`, 12), Buffer.from(path, 'base64url'));
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 10_000) return;
    this.sweptAt = now;
    for (const [nonce, expiresAt] of this.used) if (expiresAt <= now) this.used.delete(nonce);
  }
}
