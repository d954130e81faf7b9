// Which login cookies still count, without a database read on the purchase path. Each shopper has a session
// generation; a cookie carries the one it was issued at, and counts only while that is at least the floor
// kept here in memory. Revoking (logout, password change, deletion, block) raises the floor in the
// database, then here. A revocation older than a session's lifetime needs no floor: every cookie issued
// before it has expired, so only recent ones are loaded at start.
import type { UserRepository } from '../repositories/UserRepository';

/**
 * The interface the purchase path reads. This process's implementation keeps its own revocations and those
 * loaded at start; with several instances, each publishes its own (`revoked`) and applies the others'.
 */
export interface SessionGenerations {
  /** The lowest generation a cookie of this shopper must carry; from memory, synchronous. */
  floor(userId: number): number;
  /** Ends every login of the shopper issued so far; resolves with the generation new cookies carry. */
  revoke(userId: number, now?: number): Promise<number>;
  /** Loads the floors of revocations younger than a session, at start. */
  load(now?: number): Promise<void>;
}

export class StoredSessionGenerations implements SessionGenerations {
  private readonly floors = new Map<number, number>();
  /** Told after every revocation here (the other instances apply it). */
  revoked: (userId: number, floor: number) => void = () => undefined;

  constructor(
    private readonly users: Pick<UserRepository, 'raiseSessionGeneration' | 'revokedSince'>,
    private readonly sessionTtlMs: number,
  ) {}

  floor(userId: number): number {
    if (this.floors.size === 0) return 0;
    return this.floors.get(userId) ?? 0;
  }

  async revoke(userId: number, now = Date.now()): Promise<number> {
    const generation = await this.users.raiseSessionGeneration(userId, new Date(now));
    // No such user: no cookie of theirs may count either.
    const floor = generation ?? 0x7fffffff;
    this.apply(userId, floor);
    this.revoked(userId, floor);
    return floor;
  }

  /** A revocation made elsewhere. */
  apply(userId: number, floor: number): void {
    if (floor > this.floor(userId)) this.floors.set(userId, floor);
  }

  async load(now = Date.now()): Promise<void> {
    for (const u of await this.users.revokedSince(new Date(now - this.sessionTtlMs))) {
      if (u.sessionGeneration > this.floor(u.id)) this.floors.set(u.id, u.sessionGeneration);
    }
  }
}
