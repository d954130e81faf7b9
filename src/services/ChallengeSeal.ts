// The challenge handed out before the opening, sealed: its secret path and captcha encrypted (AES-256-GCM)
// under a key of the sale that the shop publishes only at the opening. Shoppers fetch their challenge at
// moments spread over the countdown, and the opening itself costs one small answer that is the same for
// every shopper, instead of a path and a picture each in the same second. Nothing sealed can be read early.
import { createCipheriv, KeyObject, randomBytes } from 'node:crypto';
import { deriveKey, mac } from '../lib/SignedToken';

const IV_BYTES = 12;

export class ChallengeSeal {
  private readonly root: KeyObject;
  /** The last sale's key: a countdown asks for one sale at a time. */
  private cached: { saleId: number; startsAt: number; key: Buffer } = { saleId: -1, startsAt: -1, key: Buffer.alloc(32) };

  constructor(
    masterKey: Buffer,
    /** How long before its opening a sale's challenges are handed out sealed; 0 for never. */
    readonly leadMs: number,
  ) {
    this.root = deriveKey(masterKey, 'flash-sale challenge seal');
  }

  /** True while a challenge for a sale opening at `startsAt` is handed out sealed. */
  covers(startsAt: number, now: number): boolean {
    return now < startsAt && startsAt - now <= this.leadMs;
  }

  /**
   * The sale's key. Derived, not drawn, so that every instance of the shop and every restart has the same
   * one; the opening is part of it, so moving a sale's start retires the challenges sealed for the old one.
   */
  key(saleId: number, startsAt: number): Buffer {
    const c = this.cached;
    if (c.saleId === saleId && c.startsAt === startsAt) return c.key;
    const key = mac(this.root, `${saleId}:${startsAt}`, 32);
    this.cached = { saleId, startsAt, key };
    return key;
  }

  /** `iv | ciphertext | tag`, base64: what WebCrypto's AES-GCM decrypt takes, after the 12-byte iv. */
  seal(saleId: number, startsAt: number, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key(saleId, startsAt), iv);
    const body = cipher.update(plaintext, 'utf8');
    const tail = cipher.final();
    return Buffer.concat([iv, body, tail, cipher.getAuthTag()]).toString('base64');
  }
}
