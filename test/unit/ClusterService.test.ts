import pino from 'pino';
import type { ClusterNews } from '../../src/queue/ClusterBus';
import type { LeaseRow } from '../../src/repositories/LeaseRepository';
import { ClusterService } from '../../src/services/ClusterService';
import { LeasedInventory } from '../../src/services/LeasedInventory';
import { SaleBook } from '../../src/services/SaleBook';
import { waitFor } from '../helpers/waitFor';

const SALE = 1;
const ME = 'a#1';

/** The authority as the watch reads it, set by the test. */
class FakeLeases {
  members = 2;
  /** Leases expired now, and those expired for longer than the grace. */
  expiredNow: LeaseRow[] = [];
  expiredPastGrace: LeaseRow[] = [];
  closed: number[] = [];
  readonly ops = { stock: 0, heartbeat: 0 };

  async census() {
    return { members: ['a#1', 'b#1', 'c#1'].slice(0, this.members), expired: this.expiredNow.length };
  }
  async expired(graceMs: number) {
    return graceMs === 0 ? this.expiredNow : this.expiredPastGrace;
  }
  async close(leaseId: number) {
    this.closed.push(leaseId);
    return 4;
  }
  async renew(_id: string, _ttl: number, known: number[]) {
    return known;
  }
  async leave() {}
  async prune() {}
}

function rig() {
  const reloads = { n: 0 };
  const leases = new FakeLeases();
  const sent: ClusterNews[] = [];
  const bus = { send: (n: ClusterNews) => void sent.push(n), start: async () => undefined, close: async () => undefined };
  const queue = { stats: async () => ({ messages: 0, consumers: 2 }) };
  const inventory = new LeasedInventory(
    { take: () => new Promise(() => undefined), giveBack: async () => true },
    { bought: () => undefined, exhausted: () => undefined, restocked: () => undefined, held: () => undefined },
    { members: () => 2, maxLease: 1000, idleGiveBackMs: 500 },
    pino({ level: 'silent' }),
  );
  const book = new SaleBook(inventory);
  book.put({ id: SALE, startsAt: 0, endsAt: Date.now() + 3600_000, stock: 10 });
  inventory.load(SALE, 10, []);
  const service = new ClusterService(
    { incarnation: ME, leaseTtlMs: 2000, graceMs: 1000, settleMs: 1, prepareMs: 5000 },
    leases,
    inventory,
    bus,
    queue,
    { buyersBySale: async () => new Map([[SALE, [42]]]) },
    book,
    { blacklistChanged: async () => undefined, revoked: () => undefined, reloadAll: async () => void (reloads.n += 1), saleChanged: async () => undefined, written: () => undefined, failed: () => undefined },
    pino({ level: 'silent' }),
  );
  inventory.settle(new Map());
  return { leases, sent, queue, inventory, service, reloads };
}

const lease = (id: number, instanceId: string): LeaseRow => ({ id, saleId: SALE, instanceId, granted: 10, expiresAt: 0 });

describe('ClusterService.gap', () => {
  it('when the bus drops, then the buyers are unsettled; when it is back, sales, blacklist and revocations are reloaded and the buyers settled', async () => {
    const { inventory, service, reloads } = rig();
    service.gap(false);
    expect(inventory.isSettled()).toBe(false);
    expect(reloads.n).toBe(0);
    service.gap(true);
    await waitFor('settled after the gap', () => inventory.isSettled());
    expect(reloads.n).toBe(1);
    expect(inventory.hasBought(SALE, 42)).toBe(true);
  });
});

describe('ClusterService.watch', () => {
  it('when another instance goes silent and then renews, then the buyers are unsettled meanwhile and settled again after', async () => {
    const { leases, inventory, service } = rig();
    leases.expiredNow = [lease(7, 'b#1')];
    await service.watch();
    expect(inventory.isSettled()).toBe(false);
    expect(inventory.isSoldOut(SALE)).toBe(false); // its units may come back

    leases.expiredNow = [];
    await service.watch();
    await waitFor('settled again', () => inventory.isSettled());
    expect(inventory.hasBought(SALE, 42)).toBe(true); // loaded from the database
  });

  it('when its lease expired past the grace, the queue is empty and its consumer gone, then it is reclaimed and told', async () => {
    const { leases, sent, inventory, service } = rig();
    leases.expiredNow = [lease(7, 'b#1')];
    await service.watch();
    leases.expiredPastGrace = [lease(7, 'b#1')];
    await service.watch();
    expect(leases.closed).toEqual([7]);
    expect(sent).toContainEqual({ t: 'restocked', sale: SALE });
    leases.expiredNow = [];
    leases.expiredPastGrace = [];
    await waitFor('settled after the reclaim', () => inventory.isSettled());
  });

  it('when the silent instance still has a consumer on the queue (cut off from the database only), then nothing is reclaimed', async () => {
    const { leases, queue, service } = rig();
    queue.stats = async () => ({ messages: 0, consumers: 3 });
    leases.expiredNow = [lease(7, 'b#1')];
    leases.expiredPastGrace = [lease(7, 'b#1')];
    await service.watch();
    await service.watch();
    expect(leases.closed).toEqual([]);
  });

  it('when orders wait in the queue, then nothing is reclaimed yet', async () => {
    const { leases, queue, service } = rig();
    queue.stats = async () => ({ messages: 5, consumers: 1 });
    leases.expiredNow = [lease(7, 'b#1')];
    leases.expiredPastGrace = [lease(7, 'b#1')];
    await service.watch();
    await service.watch();
    expect(leases.closed).toEqual([]);
  });

  it("when its own lease shows expired, then it is never its own reclaimer", async () => {
    const { leases, inventory, service } = rig();
    leases.expiredNow = [lease(3, ME)];
    leases.expiredPastGrace = [lease(3, ME)];
    await service.watch();
    expect(leases.closed).toEqual([]);
    expect(inventory.isSettled()).toBe(true);
  });
});
