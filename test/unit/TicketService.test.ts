// Purchase tickets and secret purchase paths: bound to one shopper and one sale, tickets single-use.
import { TicketService } from '../../src/services/TicketService';

const tickets = new TicketService(Buffer.alloc(16, 3), 120_000);

describe('secret purchase path', () => {
  const path = tickets.pathFor(4, 77);

  it('is 16 URL-safe characters and accepted for its own shopper and sale', () => {
    expect(path).toMatch(/^[\w-]{16}$/);
    expect(tickets.isPath(4, 77, path)).toBe(true);
  });

  it('is refused for another shopper, another sale or another key', () => {
    expect(tickets.isPath(4, 78, path)).toBe(false);
    expect(tickets.isPath(5, 77, path)).toBe(false);
    expect(new TicketService(Buffer.alloc(16, 4)).isPath(4, 77, path)).toBe(false);
  });

  it('is refused when any one character differs', () => {
    for (let i = 0; i < path.length; i++) {
      const other = path[i] === 'A' ? 'B' : 'A';
      expect(tickets.isPath(4, 77, path.slice(0, i) + other + path.slice(i + 1))).toBe(false);
    }
  });

  it('is refused when malformed: wrong length, padding, characters outside base64url', () => {
    for (const bad of [path.slice(0, 15), `${path}A`, '', `${path.slice(0, 15)}=`, `${path.slice(0, 15)}+`, `${path.slice(0, 15)}/`]) {
      expect(tickets.isPath(4, 77, bad)).toBe(false);
    }
    expect(tickets.isPath(4, 77, undefined as unknown as string)).toBe(false);
  });
});

describe('purchase ticket', () => {
  it('is spent by its first use', () => {
    const t = tickets.issue(4, 77, 1_000);
    expect(tickets.redeem(t, 4, 77, 2_000)).toBe('ok');
    expect(tickets.redeem(t, 4, 77, 2_000)).toBe('used');
  });

  it('is refused for another shopper or sale, after its lifetime, or when altered', () => {
    const t = tickets.issue(4, 77, 1_000);
    expect(tickets.redeem(t, 4, 78, 2_000)).toBe('invalid');
    expect(tickets.redeem(t, 5, 77, 2_000)).toBe('invalid');
    expect(tickets.redeem(t, 4, 77, 121_000)).toBe('expired');
    const altered = (t[0] === 'A' ? 'B' : 'A') + t.slice(1);
    expect(tickets.redeem(altered, 4, 77, 2_000)).toBe('invalid');
    expect(tickets.redeem(t, 4, 77, 2_000)).toBe('ok');
  });
});
