// The draw's randomness, provable: a seed committed to by its SHA-256 before the window, and an order of the
// entries anyone can recompute from the revealed seed. Each entry's rank is HMAC-SHA256(seed, decimal user
// id); entries sorted by rank (ties, which never happen in practice, by user id) give the draw's order, and
// the first `units` of it win. The rank depends only on the seed and the shopper, so neither the order in
// which entries arrived nor how they are listed can change who wins.
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface DrawSeed {
  /** 32 random bytes, hex. */
  seed: string;
  /** SHA-256 of the seed's bytes, hex: published before the window opens. */
  commitment: string;
}

export function newDrawSeed(): DrawSeed {
  const seed = randomBytes(32).toString('hex');
  return { seed, commitment: commitmentOf(seed) };
}

export function commitmentOf(seed: string): string {
  return createHash('sha256').update(Buffer.from(seed, 'hex')).digest('hex');
}

/** True when `seed` is the one `commitment` was made for. */
export function seedMatches(seed: string, commitment: string): boolean {
  return /^[0-9a-f]{64}$/.test(seed) && commitmentOf(seed) === commitment;
}

/** An entry's place in the draw: HMAC-SHA256 keyed by the seed's bytes over the decimal user id, hex. */
export function drawRank(seed: string, userId: number): string {
  return createHmac('sha256', Buffer.from(seed, 'hex')).update(String(userId)).digest('hex');
}

/** The entries (user ids) in the draw's order. */
export function drawOrder(seed: string, userIds: readonly number[]): number[] {
  const key = Buffer.from(seed, 'hex');
  const ranked = userIds.map((userId) => ({ userId, rank: createHmac('sha256', key).update(String(userId)).digest('hex') }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.userId - b.userId));
  return ranked.map((r) => r.userId);
}

/** The winners: the first min(units, entries) of the draw's order. */
export function drawWinners(seed: string, userIds: readonly number[], units: number): number[] {
  return drawOrder(seed, userIds).slice(0, Math.max(0, Math.min(units, userIds.length)));
}
