// The draw's randomness, provable: a seed committed to by its SHA-256 before the window, and an order of the
// entries anyone can recompute from the revealed seed. Each entry's rank is HMAC-SHA256(seed, decimal user
// id); entries sorted by rank (ties, which never happen in practice, by user id) give the draw's order, and
// the first `units` of it win. The rank depends only on the seed and the shopper, so neither the order in
// which entries arrived nor how they are listed can change who wins.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Heap } from './Heap';

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

interface Ranked {
  userId: number;
  rank: string;
}

function ranked(key: Buffer, userId: number): Ranked {
  return { userId, rank: createHmac('sha256', key).update(String(userId)).digest('hex') };
}

function byRank(a: Ranked, b: Ranked): number {
  return a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.userId - b.userId;
}

/** The entries (user ids) in the draw's order. */
export function drawOrder(seed: string, userIds: readonly number[]): number[] {
  const key = Buffer.from(seed, 'hex');
  return userIds.map((userId) => ranked(key, userId)).sort(byRank).map((r) => r.userId);
}

/** The winners: the first min(units, entries) of the draw's order. */
export function drawWinners(seed: string, userIds: readonly number[], units: number): number[] {
  return drawOrder(seed, userIds).slice(0, Math.max(0, Math.min(units, userIds.length)));
}

/**
 * drawWinners, the same result, computed in slices that give the event loop back between them: a draw of
 * hundreds of thousands of entries then never holds up the requests the process answers meanwhile. Keeps only
 * the best `units` so far in a heap (the worst of them on top) instead of sorting every entry.
 */
export async function drawWinnersInSlices(seed: string, userIds: readonly number[], units: number, slice = 2000): Promise<number[]> {
  const key = Buffer.from(seed, 'hex');
  const size = Math.max(0, Math.min(units, userIds.length));
  // The worst of the best so far on top, so that a better entry replaces it.
  const best = new Heap<Ranked>((a, b) => byRank(a, b) > 0);
  for (let i = 0; i < userIds.length; i++) {
    const r = ranked(key, userIds[i]);
    if (best.size < size) best.push(r);
    else if (size > 0 && byRank(r, best.peek()!) < 0) best.replaceTop(r);
    if ((i + 1) % slice === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return best.toArray().sort(byRank).map((r) => r.userId);
}
