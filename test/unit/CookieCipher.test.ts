import { createCipheriv, createHash } from 'node:crypto';
import { CookieCipher, SessionPayload } from '../../src/lib/CookieCipher';

const keyA = Buffer.alloc(16, 0xa1);
const keyB = Buffer.alloc(16, 0xb2);
const NOW = Date.UTC(2030, 0, 1);
const payload: SessionPayload = { userId: 4242, generation: 3, issuedAt: NOW, expiresAt: NOW + 3600_000 };

const decode = (token: string) => Buffer.from(token, 'base64url');
const encode = (raw: Buffer) => raw.toString('base64url');

describe('CookieCipher', () => {
  it('when a sealed payload is opened with the same key, then the same payload comes back', () => {
    const cipher = new CookieCipher([keyA]);

    const opened = cipher.open(cipher.seal(payload), NOW);

    expect(opened).toEqual(payload);
  });

  it('when the same payload is sealed twice, then the tokens differ (fresh IV) and neither shows the user id', () => {
    const cipher = new CookieCipher([keyA]);

    const [a, b] = [cipher.seal(payload), cipher.seal(payload)];

    expect(a).not.toBe(b);
    for (const token of [a, b]) {
      expect(token).toMatch(/^[\w-]+$/);
      expect(token).not.toContain('4242');
      const userIdBytes = Buffer.alloc(4);
      userIdBytes.writeUInt32BE(payload.userId);
      expect(decode(token).includes(userIdBytes)).toBe(false);
    }
  });

  it('when any single byte of the decoded token is flipped, then it is rejected', () => {
    const cipher = new CookieCipher([keyA]);
    const raw = decode(cipher.seal(payload));
    const accepted: string[] = [];

    for (let i = 0; i < raw.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(raw);
        tampered[i] ^= mask;
        if (cipher.open(encode(tampered), NOW) !== null) accepted.push(`byte ${i} ^ ${mask}`);
      }
    }

    expect(raw.length).toBeGreaterThan(40);
    expect(accepted).toEqual([]);
  });

  it('when the token is truncated or extended, then it is rejected', () => {
    const cipher = new CookieCipher([keyA]);
    const token = cipher.seal(payload);
    const raw = decode(token);

    const variants = [
      token.slice(0, -1),
      token.slice(0, -4),
      encode(raw.subarray(0, raw.length - 1)),
      encode(raw.subarray(0, raw.length - 16)),
      encode(raw.subarray(1)),
      encode(Buffer.concat([raw, Buffer.from([0])])),
      `${token}A`,
      '',
    ];

    for (const v of variants) expect(cipher.open(v, NOW)).toBeNull();
  });

  it('when the token carries stray or non-base64url characters, then it is rejected without throwing', () => {
    const cipher = new CookieCipher([keyA]);
    const token = cipher.seal(payload);

    const variants = [`${token.slice(0, -1)}=`, `${token.slice(0, 10)}.${token.slice(11)}`, `${token.slice(0, -1)}+`, '\u0000'.repeat(token.length)];

    for (const v of variants) expect(() => cipher.open(v, NOW)).not.toThrow();
    for (const v of variants) expect(cipher.open(v, NOW)).toBeNull();
    expect(cipher.open(undefined as unknown as string, NOW)).toBeNull();
  });

  it('when the token has expired, then it is rejected, and just before expiry it is accepted', () => {
    const cipher = new CookieCipher([keyA]);
    const token = cipher.seal(payload);

    expect(cipher.open(token, payload.expiresAt - 1)).toEqual(payload);
    expect(cipher.open(token, payload.expiresAt)).toBeNull();
    expect(cipher.open(token, payload.expiresAt + 86_400_000)).toBeNull();
  });

  it('when a token was sealed with another key, then it is rejected', () => {
    const ours = new CookieCipher([keyA]);
    const theirs = new CookieCipher([keyB]);

    expect(ours.open(theirs.seal(payload), NOW)).toBeNull();
  });

  it("when a foreign token's key id is rewritten to ours, then authentication refuses it", () => {
    const ours = new CookieCipher([keyA]);
    const foreign = decode(new CookieCipher([keyB]).seal(payload));
    decode(ours.seal(payload)).copy(foreign, 0, 0, 5);

    expect(ours.open(encode(foreign), NOW)).toBeNull();
  });

  it('when keys are rotated with the old key listed second, then old cookies still open', () => {
    const before = new CookieCipher([keyA]);
    const after = new CookieCipher([keyB, keyA]);

    expect(after.open(before.seal(payload), NOW)).toEqual(payload);
  });

  it('when keys are rotated, then new cookies use the first key', () => {
    const after = new CookieCipher([keyB, keyA]);

    const token = after.seal(payload);

    expect(new CookieCipher([keyB]).open(token, NOW)).toEqual(payload);
    expect(new CookieCipher([keyA]).open(token, NOW)).toBeNull();
  });

  it('when the old key is dropped after a rotation, then cookies sealed with it are rejected', () => {
    const old = new CookieCipher([keyA]).seal(payload);

    expect(new CookieCipher([keyB]).open(old, NOW)).toBeNull();
  });

  it('when a cookie of version 1 (before session generations) is opened, then it reads as generation 0; a version 1 header on a longer body is refused', () => {
    // Version 1 as it was sealed: header (version, key id), IV, AES-GCM over userId, issuedAt, expiresAt, tag.
    const header = Buffer.alloc(5);
    header.writeUInt8(1, 0);
    header.writeInt32BE(createHash('sha256').update(keyA).digest().readInt32BE(0), 1);
    const body = Buffer.alloc(20);
    body.writeUInt32BE(payload.userId, 0);
    body.writeDoubleBE(payload.issuedAt, 4);
    body.writeDoubleBE(payload.expiresAt, 12);
    const iv = Buffer.alloc(12, 9);
    const cipher = createCipheriv('aes-128-gcm', keyA, iv);
    cipher.setAAD(header);
    const v1 = Buffer.concat([header, iv, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    const v2AsV1 = decode(new CookieCipher([keyA]).seal(payload));
    v2AsV1[0] = 1;

    expect(new CookieCipher([keyA]).open(encode(v1), NOW)).toEqual({ ...payload, generation: 0 });
    expect(new CookieCipher([keyA]).open(encode(v2AsV1), NOW)).toBeNull();
  });

  it('when built without keys or with a key that is not 16 bytes, then it refuses to start', () => {
    expect(() => new CookieCipher([])).toThrow(/at least one key/);
    expect(() => new CookieCipher([Buffer.alloc(32)])).toThrow(/16 bytes/);
    expect(() => new CookieCipher([keyA, Buffer.alloc(15)])).toThrow(/16 bytes/);
  });
});
