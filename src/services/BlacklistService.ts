// The blacklist as the purchase funnel sees it: two in-memory maps, reloaded from the database on change.
import { ValidationError } from '../errors';
import { BlacklistInput, BlacklistRecord, BlacklistRepository } from '../repositories/BlacklistRepository';

export class BlacklistService {
  private users = new Map<number, number>();
  private ips = new Map<string, number>();

  constructor(private readonly repo: BlacklistRepository) {}

  async load(): Promise<void> {
    const users = new Map<number, number>();
    const ips = new Map<string, number>();
    for (const e of await this.repo.list()) {
      const until = e.until ? e.until.getTime() : Infinity;
      if (e.userId !== null) users.set(e.userId, Math.max(until, users.get(e.userId) ?? 0));
      if (e.ip !== null) ips.set(plainIp(e.ip), Math.max(until, ips.get(plainIp(e.ip)) ?? 0));
    }
    this.users = users;
    this.ips = ips;
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
    return id;
  }

  async remove(id: number): Promise<boolean> {
    const removed = await this.repo.remove(id);
    await this.load();
    return removed;
  }
}

/** An IPv4 address as seen on an IPv6 socket (::ffff:a.b.c.d) is the same address as a.b.c.d. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
