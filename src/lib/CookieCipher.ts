// Authenticated, encrypted login cookie: AES-128-GCM with a fresh IV, a key id for rotation, an expiry and
// the shopper's session generation (a cookie of an older generation has been revoked).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface SessionPayload {
  userId: number;
  /** The shopper's session generation when the cookie was issued; 0 for cookies of version 1. */
  generation: number;
  issuedAt: number;
  expiresAt: number;
}

export type SessionInput = Omit<SessionPayload, 'generation'> & { generation?: number };

const VERSION = 2;
/** Version 1 (no generation) is still opened, as generation 0, so that an upgrade logs nobody out. */
const VERSION_1 = 1;
const HEADER = 5; // version (1) + key id (4)
const IV = 12;
const TAG = 16;
const BODY = 4 + 4 + 8 + 8; // userId u32, generation u32, issuedAt f64, expiresAt f64
const BODY_1 = 4 + 8 + 8; // userId u32, issuedAt f64, expiresAt f64

interface Key {
  id: number;
  secret: Buffer;
}

export class CookieCipher {
  private readonly active: Key;
  private readonly byId = new Map<number, Buffer>();

  /** The first key encrypts; every key decrypts, so old cookies survive a rotation. */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('CookieCipher needs at least one key');
    for (const secret of keys) {
      if (secret.length !== 16) throw new Error('CookieCipher keys are 16 bytes (AES-128)');
      this.byId.set(keyId(secret), secret);
    }
    this.active = { id: keyId(keys[0]), secret: keys[0] };
  }

  seal(payload: SessionInput): string {
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt8(VERSION, 0);
    header.writeInt32BE(this.active.id, 1);
    const body = Buffer.allocUnsafe(BODY);
    body.writeUInt32BE(payload.userId, 0);
    body.writeUInt32BE(payload.generation ?? 0, 4);
    body.writeDoubleBE(payload.issuedAt, 8);
    body.writeDoubleBE(payload.expiresAt, 16);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-128-gcm', this.active.secret, iv);
    cipher.setAAD(header);
    const sealed = Buffer.concat([header, iv, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  /** Any tampering, unknown key, wrong shape or expiry gives null, never an exception. */
  open(token: string, now = Date.now()): SessionPayload | null {
    if (typeof token !== 'string' || (token.length !== EXPECTED_LENGTH && token.length !== EXPECTED_LENGTH_1)) return null;
    const raw = Buffer.from(token, 'base64url');
    const v1 = raw.length === HEADER + IV + BODY_1 + TAG && raw[0] === VERSION_1;
    if (!v1 && (raw.length !== HEADER + IV + BODY + TAG || raw[0] !== VERSION)) return null;
    // base64url decoding ignores stray characters, so insist on the canonical form.
    if (raw.toString('base64url') !== token) return null;
    const secret = this.byId.get(raw.readInt32BE(1));
    if (!secret) return null;
    try {
      const decipher = createDecipheriv('aes-128-gcm', secret, raw.subarray(HEADER, HEADER + IV));
      decipher.setAAD(raw.subarray(0, HEADER));
      decipher.setAuthTag(raw.subarray(raw.length - TAG));
      const body = Buffer.concat([decipher.update(raw.subarray(HEADER + IV, raw.length - TAG)), decipher.final()]);
      const payload: SessionPayload = v1
        ? { userId: body.readUInt32BE(0), generation: 0, issuedAt: body.readDoubleBE(4), expiresAt: body.readDoubleBE(12) }
        : { userId: body.readUInt32BE(0), generation: body.readUInt32BE(4), issuedAt: body.readDoubleBE(8), expiresAt: body.readDoubleBE(16) };
      return payload.expiresAt > now ? payload : null;
    } catch {
      return null;
    }
  }
}

const EXPECTED_LENGTH = Math.ceil(((HEADER + IV + BODY + TAG) * 4) / 3);
const EXPECTED_LENGTH_1 = Math.ceil(((HEADER + IV + BODY_1 + TAG) * 4) / 3);

/** Signed, so that every key id is a small integer to V8 and the cipher keeps one shape whatever its key. */
function keyId(secret: Buffer): number {
  return createHash('sha256').update(secret).digest().readInt32BE(0);
}
