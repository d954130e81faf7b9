import { shardKey } from '../../src/lib/shard';

const key = Buffer.alloc(16, 0x5a);
const otherKey = Buffer.alloc(16, 0x5b);

describe('shardKey', () => {
  it('when asked twice for the same shopper, then the same short base64url key comes back', () => {
    const a = shardKey(key, 4242);

    expect(shardKey(key, 4242)).toBe(a);
    expect(a).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });

  it('when shoppers differ, then their keys differ (no collision among 20,000 ids)', () => {
    const keys = new Set<string>();
    for (let id = 1; id <= 20_000; id++) keys.add(shardKey(key, id));

    expect(keys.size).toBe(20_000);
  });

  it('when the cookie key differs, then the same shopper gets a different key', () => {
    expect(shardKey(otherKey, 4242)).not.toBe(shardKey(key, 4242));
  });

  it('when read, then the key shows neither the user id nor the cookie key', () => {
    const k = shardKey(key, 4242);
    const raw = Buffer.from(k, 'base64url');

    expect(k).not.toContain('4242');
    expect(raw.includes(Buffer.from('4242'))).toBe(false);
    expect(raw.readUInt32BE(0)).not.toBe(4242);
    expect(raw.includes(key.subarray(0, 4))).toBe(false);
  });

  it('when keys are made for consecutive ids, then their first characters spread over the alphabet', () => {
    const firsts = new Set<string>();
    for (let id = 1; id <= 1000; id++) firsts.add(shardKey(key, id)[0]);

    expect(firsts.size).toBeGreaterThan(50);
  });
});
