// The blacklist as the purchase funnel sees it: two in-memory maps, reloaded from the database on change.
import type { Logger } from 'pino';
import { ValidationError } from '../errors';
import { BlacklistInput, BlacklistRecord, BlacklistRepository } from '../repositories/BlacklistRepository';

export class BlacklistService {
  private users = new Map<number, number>();
  private ips = new Map<string, number>();
  /** Told after every stored change (the other instances reload theirs). */
  changed: () => void = () => undefined;

  constructor(
    private readonly repo: BlacklistRepository,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const entries = await this.repo.list();
    this.users = new Map();
    this.ips = new Map();
    for (const e of entries) this.apply(e);
  }

  isBlocked(userId: number, ip: string, now: number): boolean {
    if (this.users.size > 0) {
      const u = this.users.get(userId);
      if (u !== undefined && u > now) return true;
    }
    if (this.ips.size > 0) {
      const i = this.ips.get(plainIp(ip));
      if (i !== undefined && i > now) return true;
    }
    return false;
  }

  list(): Promise<BlacklistRecord[]> {
    return this.repo.list();
  }

  async add(input: BlacklistInput): Promise<number> {
    if (input.userId === null && input.ip === null) throw new ValidationError({ target: 'give a user or an IP address' });
    const id = await this.repo.add(input);
    await this.load();
    this.changed();
    return id;
  }

  /**
   * A block by the abuse rules: in memory at once, so the very next request is refused, and stored in the
   * background (the admin page lists it, with its reason and end, and can lift it). Applied again once
   * stored, in case a reload read the table just before the row was there.
   */
  blockAutomatically(input: BlacklistInput): void {
    this.apply(input);
    this.repo.add(input).then(
      () => {
        this.apply(input);
        this.changed();
      },
      (err: Error) => this.log.error({ err: err.message, userId: input.userId, ip: input.ip }, 'automatic blacklist entry not stored'),
    );
  }

  private apply(e: Pick<BlacklistInput, 'userId' | 'ip' | 'until'>): void {
    const until = e.until ? e.until.getTime() : Infinity;
    if (e.userId !== null) this.users.set(e.userId, Math.max(until, this.users.get(e.userId) ?? 0));
    if (e.ip !== null) this.ips.set(plainIp(e.ip), Math.max(until, this.ips.get(plainIp(e.ip)) ?? 0));
  }

  async remove(id: number): Promise<boolean> {
    const removed = await this.repo.remove(id);
    await this.load();
    this.changed();
    return removed;
  }
}

/** An IPv4 address as seen on an IPv6 socket (::ffff:a.b.c.d) is the same address as a.b.c.d. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
