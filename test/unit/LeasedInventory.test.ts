import pino from 'pino';
import { Grant, LeaseFencedError } from '../../src/repositories/LeaseRepository';
import { LeasedInventory, StockAuthority } from '../../src/services/LeasedInventory';

const SALE = 1;
const TTL = 5000;

/** An authority in memory, answering when the test says so. */
class FakeAuthority implements StockAuthority {
  unleased: number;
  takes: { saleId: number; leaseId: number | null; want: number; answer: (g: Grant | Error) => void }[] = [];
  givenBack: { leaseId: number; units: number }[] = [];
  private nextLease = 1;

  constructor(stock: number) {
    this.unleased = stock;
  }

  take(saleId: number, leaseId: number | null, want: number): Promise<Grant> {
    return new Promise((resolve, reject) => {
      this.takes.push({ saleId, leaseId, want, answer: (g) => (g instanceof Error ? reject(g) : resolve(g)) });
    });
  }

  /** Answers the oldest take as the database would. */
  async grant(): Promise<Grant> {
    const t = this.takes.shift()!;
    const took = Math.min(t.want, this.unleased);
    this.unleased -= took;
    const g = { leaseId: t.leaseId ?? this.nextLease++, took, unleasedLeft: this.unleased };
    t.answer(g);
    await Promise.resolve();
    await Promise.resolve();
    return g;
  }

  async giveBack(leaseId: number, units: number): Promise<boolean> {
    this.givenBack.push({ leaseId, units });
    this.unleased += units;
    return true;
  }
}

function rig(stock: number, members = 2) {
  let now = 1_000_000;
  const authority = new FakeAuthority(stock);
  const news = { bought: [] as number[], exhausted: 0, restocked: 0, held: [] as number[] };
  const inventory = new LeasedInventory(
    authority,
    {
      bought: (_s, u) => news.bought.push(u),
      exhausted: () => (news.exhausted += 1),
      restocked: () => (news.restocked += 1),
      held: (_s, units) => news.held.push(units),
    },
    { members: () => members, maxLease: 1000, idleGiveBackMs: 500 },
    pino({ level: 'silent' }),
    () => now,
  );
  inventory.load(SALE, stock, []);
  inventory.renewed(now, TTL, []);
  inventory.settle(new Map());
  return { inventory, authority, news, advance: (ms: number) => (now += ms), at: () => now };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LeasedInventory', () => {
  it('when the slice is empty, then the shopper waits (not sold out) while a lease of a share of what is left is taken', async () => {
    const { inventory, authority, at } = rig(100, 2);

    expect(inventory.isSoldOut(SALE)).toBe(false);
    expect(inventory.stalled(SALE, 7, at())).toBe(true);
    expect(authority.takes).toEqual([expect.objectContaining({ leaseId: null, want: 25 })]);
    expect(inventory.stalled(SALE, 7, at())).toBe(true);
    expect(authority.takes).toHaveLength(1); // one refill at a time

    await authority.grant();
    expect(inventory.stalled(SALE, 7, at())).toBe(false);
    expect(inventory.tryReserve(SALE, 7)).toBe('reserved');
    expect(inventory.leaseOf(SALE)).toBe(1);
  });

  it('when the slice runs low, then it is topped up ahead, in leases that shrink with the stock', async () => {
    const { inventory, authority, at } = rig(100, 2);
    inventory.stalled(SALE, 1, at());
    await authority.grant(); // 25
    let user = 1;
    while (authority.takes.length === 0) expect(inventory.tryReserve(SALE, user++)).toBe('reserved');
    expect(user - 1).toBe(25 - Math.ceil(Math.ceil(75 / 4) / 4)); // the low-water mark: a quarter of the next lease
    const next = await authority.grant();
    expect(next.took).toBe(Math.ceil(75 / 4));
    expect(next.leaseId).toBe(1); // the same lease grows
  });

  it('when the authority is empty and the slice too, then sold out, told to the others once', async () => {
    const { inventory, authority, news, at } = rig(3, 1);
    inventory.stalled(SALE, 1, at());
    await authority.grant(); // 2 (half of 3, rounded up)
    expect(inventory.tryReserve(SALE, 1)).toBe('reserved');
    await authority.grant(); // the refill takes the last one: empty
    expect(news.exhausted).toBe(1);
    expect(inventory.tryReserve(SALE, 2)).toBe('reserved');
    expect(inventory.tryReserve(SALE, 3)).toBe('reserved');
    expect(inventory.isSoldOut(SALE)).toBe(true);
    expect(inventory.tryReserve(SALE, 4)).toBe('sold_out');
    expect(news.bought).toEqual([1, 2, 3]);
  });

  it('when the leases were not renewed in time, then it stops selling before they can expire (fencing)', async () => {
    const { inventory, authority, advance, at } = rig(100);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    advance(TTL - 1000 - 1);
    expect(inventory.stalled(SALE, 1, at())).toBe(false);
    advance(1);
    expect(inventory.stalled(SALE, 1, at())).toBe(true);
    inventory.renewed(at(), TTL, [1]);
    expect(inventory.stalled(SALE, 1, at())).toBe(false);
  });

  it('when a renewal finds the lease gone (reclaimed by another instance), then its units are dropped here', async () => {
    const { inventory, authority, advance, at } = rig(100);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    advance(10);
    inventory.renewed(at(), TTL, []);
    expect(inventory.leaseOf(SALE)).toBeUndefined();
    expect(inventory.held()).toBe(0);
  });

  it('when a renewal sent before the lease was granted does not list it, then the lease is kept', async () => {
    const { inventory, authority, at, advance } = rig(100);
    const sentAt = at();
    inventory.stalled(SALE, 1, at());
    advance(5);
    await authority.grant();
    inventory.renewed(sentAt, TTL, []);
    expect(inventory.leaseOf(SALE)).toBe(1);
  });

  it('when a refill finds the lease fenced, then the slice starts a new lease next time', async () => {
    const { inventory, authority, at } = rig(100);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    while (authority.takes.length === 0) inventory.tryReserve(SALE, Math.random() * 1e9);
    authority.takes.shift()!.answer(new LeaseFencedError(1));
    await flush();
    expect(inventory.leaseOf(SALE)).toBeUndefined();
    expect(inventory.held()).toBe(0);
  });

  it('when a publish fails, then the unit goes back only into the lease it came from', async () => {
    const { inventory, authority, advance, at } = rig(100);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    expect(inventory.tryReserve(SALE, 1)).toBe('reserved');
    const held = inventory.held();
    inventory.release(SALE, 1, 1);
    expect(inventory.held()).toBe(held + 1);

    expect(inventory.tryReserve(SALE, 2)).toBe('reserved');
    advance(10);
    inventory.renewed(at(), TTL, []); // lease 1 reclaimed meanwhile
    inventory.release(SALE, 2, 1);
    expect(inventory.held()).toBe(0);
    expect(inventory.hasBought(SALE, 2)).toBe(false);
  });

  it('when the cluster is unsettled, then only shoppers served here before may buy', async () => {
    const { inventory, authority, at } = rig(100);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    expect(inventory.stalled(SALE, 1, at())).toBe(false);

    inventory.unsettle();
    expect(inventory.stalled(SALE, 1, at())).toBe(false);
    expect(inventory.stalled(SALE, 2, at())).toBe(true);
    inventory.settle(new Map([[SALE, [2]]]));
    expect(inventory.hasBought(SALE, 2)).toBe(true);
    expect(inventory.stalled(SALE, 3, at())).toBe(false);
  });

  it('when a silent instance may still give units back, then an empty slice is not sold out: shoppers wait', async () => {
    const { inventory, authority, at } = rig(2, 1);
    inventory.stalled(SALE, 1, at());
    await authority.grant(); // 1
    inventory.tryReserve(SALE, 1);
    await authority.grant(); // the last one: empty
    inventory.tryReserve(SALE, 2);
    expect(inventory.isSoldOut(SALE)).toBe(true);

    inventory.awaitReturns([SALE]);
    expect(inventory.isSoldOut(SALE)).toBe(false);
    expect(inventory.stalled(SALE, 3, at())).toBe(true);
    inventory.awaitReturns([]);
    expect(inventory.isSoldOut(SALE)).toBe(true);
  });

  it('when another instance still holds units, then an empty slice here is not sold out; it tells its own holding as it changes', async () => {
    const { inventory, authority, news, at } = rig(2, 1);
    inventory.stalled(SALE, 1, at());
    await authority.grant(); // 1
    expect(news.held).toEqual([1]);
    inventory.tryReserve(SALE, 1);
    expect(news.held).toEqual([1, 0]);
    await authority.grant(); // the last one: empty
    inventory.tryReserve(SALE, 2);

    inventory.peerHolds('b#1', SALE, 3);
    expect(inventory.isSoldOut(SALE)).toBe(false);
    expect(inventory.stalled(SALE, 3, at())).toBe(true);
    inventory.peerHolds('b#1', SALE, 0);
    expect(inventory.isSoldOut(SALE)).toBe(true);
    inventory.peerHolds('c#1', SALE, 1);
    inventory.forgetPeer('c#1');
    expect(inventory.isSoldOut(SALE)).toBe(true);
  });

  it('when units are given back while a lease is on its way, then its answer "nothing left" does not mark the authority empty', async () => {
    const { inventory, authority, news, at } = rig(1, 1);
    inventory.stalled(SALE, 1, at()); // asks for a lease
    authority.unleased = 0; // another instance took the last unit first...
    inventory.markRestocked(SALE); // ...and gave one back before this lease's answer came
    await authority.grant();
    expect(news.exhausted).toBe(0);
    expect(inventory.isSoldOut(SALE)).toBe(false);
  });

  it('when a peer is no longer alive, then what it said it held no longer counts', async () => {
    const { inventory, authority, at } = rig(1, 1);
    inventory.stalled(SALE, 1, at());
    await authority.grant();
    inventory.tryReserve(SALE, 1);
    inventory.peerHolds('b#1', SALE, 2);
    expect(inventory.isSoldOut(SALE)).toBe(false);
    inventory.keepPeers(new Set(['a#1', 'c#1']));
    expect(inventory.isSoldOut(SALE)).toBe(true);
  });

  it('when the authority is empty and this slice sits idle, then it goes back and the others hear it', async () => {
    const { inventory, authority, news, advance, at } = rig(4, 1);
    inventory.stalled(SALE, 1, at());
    await authority.grant(); // 2
    inventory.tryReserve(SALE, 1);
    await authority.grant(); // 1, the authority has 1 left
    inventory.markExhausted(SALE);
    inventory.giveBackIdle();
    expect(authority.givenBack).toEqual([]); // just sold: not idle
    advance(500);
    inventory.giveBackIdle();
    await flush();
    expect(authority.givenBack).toEqual([{ leaseId: 1, units: 2 }]);
    expect(news.restocked).toBe(1);
    expect(inventory.isSoldOut(SALE)).toBe(false);
  });
});
