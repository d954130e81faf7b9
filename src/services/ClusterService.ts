// One instance's part in a shop of several (docs/CLUSTER.md): its heartbeat, which renews its stock leases;
// the news it hears from the others; the reclaim of a dead instance's leases once every order it accepted is
// written; and the settling of the cluster's buyers after an instance joined, died, or this one lost the bus.
import type { Logger } from 'pino';
import type { ClusterBus, ClusterListener, ClusterNews } from '../queue/ClusterBus';
import type { LeaseRepository } from '../repositories/LeaseRepository';
import type { OrderRepository } from '../repositories/OrderRepository';
import type { LeasedInventory } from './LeasedInventory';
import type { DrawPhase, SaleBook } from './SaleBook';

export interface ClusterTimings {
  /** This incarnation's name in the authority: the instance's id and a random part (a restart is a new one). */
  incarnation: string;
  leaseTtlMs: number;
  /** How long after a lease expired its orders surely left every writer's hands (the writer's hold and more). */
  graceMs: number;
  /** How long after the queue was seen empty every order in a writer's hands is written. */
  settleMs: number;
  /** Sales opening this soon are leased ahead. */
  prepareMs: number;
}

/** What the others' news changes in this instance, besides the stock. */
export interface PeerHooks {
  blacklistChanged(): Promise<void>;
  revoked(userId: number, floor: number): void;
  /** After news may have been missed: the sales' windows, the blacklist and the revocations, from the database. */
  reloadAll(): Promise<void>;
  saleChanged(saleId: number): Promise<void>;
  written(requestId: string): void;
  failed(requestId: string): void;
}

export class ClusterService implements ClusterListener {
  private timers: NodeJS.Timeout[] = [];
  /** Leases of other instances seen expired, not yet reclaimed. */
  private readonly suspected = new Map<number, number>();
  private settling: Promise<void> | null = null;
  /** Counts the events that unsettle the buyers; a settle that saw it change starts over. */
  private unsettles = 0;
  private members = 1;
  private stopped = false;

  constructor(
    private readonly t: ClusterTimings,
    private readonly leases: Pick<LeaseRepository, 'renew' | 'census' | 'expired' | 'close' | 'leave' | 'prune'>,
    private readonly inventory: LeasedInventory,
    private readonly bus: Pick<ClusterBus, 'start' | 'send' | 'close'>,
    private readonly queue: { stats(): Promise<{ messages: number; consumers: number }> },
    private readonly orders: Pick<OrderRepository, 'buyersBySale'>,
    private readonly book: SaleBook,
    private readonly hooks: PeerHooks,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Joins: hears the others first, then renews, then settles the buyers in the background. */
  async start(): Promise<void> {
    this.inventory.unsettle();
    await this.bus.start(this);
    this.bus.send({ t: 'hello' }); // the others tell what they hold
    await this.leases.prune();
    await this.renew();
    this.members = Math.max(1, (await this.leases.census()).members.length);
    const every = (ms: number, work: () => Promise<void> | void) => {
      const timer = setInterval(() => {
        Promise.resolve()
          .then(work)
          .catch((err: Error) => this.log.warn({ err: err.message }, 'cluster task failed'));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.max(200, Math.floor(this.t.leaseTtlMs / 5)), () => this.renew());
    every(250, () => this.tick());
    every(1000, () => this.watch());
    void this.settle();
    this.log.info({ incarnation: this.t.incarnation }, 'joined the cluster');
  }

  /**
   * Leaves: stops selling, and when every order this instance accepted is written (`drained`), returns
   * the unsold units; otherwise they come back to the others when its leases expire.
   */
  async stop(drained: boolean): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.inventory.fence();
    if (drained) {
      for (const { saleId, leaseId } of this.inventory.leases()) {
        const back = await this.leases.close(leaseId, 'returned').catch((err: Error) => {
          this.log.warn({ leaseId, err: err.message }, 'lease not returned; it comes back when it expires');
          return null;
        });
        if (back) this.bus.send({ t: 'restocked', sale: saleId });
        this.log.info({ saleId, leaseId, units: back }, 'lease returned');
      }
      this.inventory.emptied();
      await this.leases.leave(this.t.incarnation).catch(() => undefined);
    } else {
      this.log.warn('accepted orders not all written: leases left to expire');
    }
    await this.bus.close();
  }

  news(n: ClusterNews, from: string): void {
    switch (n.t) {
      case 'held':
        return this.inventory.peerHolds(from, n.sale, n.units);
      case 'hello':
        for (const h of this.inventory.holdings()) this.bus.send({ t: 'held', sale: h.saleId, units: h.units });
        return;
      case 'bought':
        return this.inventory.addBuyers(n.sale, n.users);
      case 'exhausted':
        return this.inventory.markExhausted(n.sale);
      case 'restocked':
        return this.inventory.markRestocked(n.sale);
      case 'written':
        for (const id of n.ids) this.hooks.written(id);
        return;
      case 'failed':
        for (const id of n.ids) this.hooks.failed(id);
        return;
      case 'blacklist':
        void this.hooks.blacklistChanged().catch((err: Error) => this.log.warn({ err: err.message }, 'blacklist not reloaded'));
        return;
      case 'revoked':
        return this.hooks.revoked(n.user, n.floor);
      case 'sale':
        void this.hooks.saleChanged(n.sale).catch((err: Error) => this.log.warn({ err: err.message }, 'sale not reloaded'));
        return;
    }
  }

  /** Instances alive, as last counted. */
  liveMembers(): number {
    return this.members;
  }

  gap(up: boolean): void {
    this.unsettle('cluster bus gap');
    if (!up) return;
    // What the news would have said, from the database: buyers (settle), sales, blacklist, revocations.
    void this.settle();
    void this.hooks.reloadAll().catch((err: Error) => this.log.warn({ err: err.message }, 'sales, blacklist or revocations not reloaded after the bus gap'));
  }

  /** The heartbeat: membership and leases renewed; the inventory may sell until this one's lifetime ends. */
  async renew(): Promise<void> {
    const sentAt = this.clock();
    const active = await this.leases.renew(this.t.incarnation, this.t.leaseTtlMs, this.inventory.leases().map((l) => l.leaseId));
    if (!this.stopped) this.inventory.renewed(sentAt, this.t.leaseTtlMs, active);
  }

  /** Leases ahead for the sales about to open, and idle units back to the authority once it is empty. */
  tick(): void {
    const now = this.clock();
    // A draw sale's units stay with the authority until its draw has run (the draw writes the winners' orders).
    const soon = this.book.all().filter((w) => w.startsAt - now <= this.t.prepareMs && w.endsAt > now && leasable(this.book.drawPhase(w.id, now)));
    this.inventory.prepare(soon.map((w) => w.id));
    this.inventory.giveBackIdle();
  }

  /**
   * Other instances' leases that stopped being renewed: while one is not yet reclaimed, the buyers are
   * unsettled (its last buyers may not have been heard). One is reclaimed when it expired `graceMs` ago, the
   * order queue is empty and no consumer of it is left but the live instances' (the dead one's unwritten
   * orders went back to the queue and were written).
   */
  async watch(): Promise<void> {
    const suspecting = this.suspected.size > 0;
    const census = await this.leases.census();
    this.members = Math.max(1, census.members.length);
    const expired = census.expired === 0 ? [] : (await this.leases.expired(0)).filter((l) => l.instanceId !== this.t.incarnation);
    // What a peer that is gone for good held (a message lost as it left, say) no longer counts. A silent one
    // whose lease is still active keeps its holding: it may come back and sell it. Once our own row is
    // expired too, the census says nothing (we are fenced until the next renewal anyway).
    if (census.members.includes(this.t.incarnation)) this.inventory.keepPeers(new Set([...census.members, ...expired.map((l) => l.instanceId)]));
    const still = new Set(expired.map((l) => l.id));
    for (const id of [...this.suspected.keys()]) if (!still.has(id)) this.suspected.delete(id); // renewed after all
    for (const l of expired) {
      if (this.suspected.has(l.id)) continue;
      this.suspected.set(l.id, l.saleId);
      this.unsettle(`instance ${l.instanceId} silent`);
    }
    this.inventory.awaitReturns(this.suspected.values());
    if (this.suspected.size === 0) {
      if (suspecting) void this.settle(); // the silent instance renewed after all
      return;
    }
    const due = (await this.leases.expired(this.t.graceMs)).filter((l) => this.suspected.has(l.id));
    if (due.length === 0) return;
    const stats = await this.queue.stats();
    if (stats.messages > 0 || stats.consumers > this.members) return;
    for (const l of due) {
      const back = await this.leases.close(l.id, 'reclaimed', this.t.graceMs);
      this.suspected.delete(l.id);
      this.inventory.awaitReturns(this.suspected.values());
      if (back === null) continue;
      this.log.warn({ leaseId: l.id, instance: l.instanceId, saleId: l.saleId, units: back }, 'dead instance lease reclaimed');
      this.inventory.forgetPeer(l.instanceId);
      if (back > 0) {
        this.inventory.markRestocked(l.saleId);
        this.bus.send({ t: 'restocked', sale: l.saleId });
      }
    }
    if (this.suspected.size === 0) void this.settle();
  }

  private unsettle(why: string): void {
    if (this.inventory.isSettled()) this.log.info({ why }, 'buyers unsettled: only shoppers served here may buy until settled');
    this.unsettles += 1;
    this.inventory.unsettle();
  }

  /**
   * Settles the buyers: once no dead lease is pending, the order queue was seen empty and `settleMs` passed
   * (every order accepted anywhere before is written), the database's buyers plus the news heard since are all.
   */
  private settle(): Promise<void> {
    this.settling ??= (async () => {
      try {
        for (;;) {
          if (this.stopped) return;
          const started = this.unsettles;
          if (this.suspected.size === 0 && (await this.queue.stats()).messages === 0) {
            await pause(this.t.settleMs);
            const sales = this.book.all().filter((w) => w.endsAt > this.clock());
            const buyers = await this.orders.buyersBySale(sales.map((w) => w.id));
            if (this.unsettles === started && this.suspected.size === 0) {
              this.inventory.settle(buyers);
              this.log.info({ sales: sales.length }, 'buyers settled');
              return;
            }
          }
          await pause(200);
        }
      } finally {
        this.settling = null;
      }
    })().catch((err: Error) => {
      this.log.warn({ err: err.message }, 'buyers not settled; trying again');
      setTimeout(() => void this.settle(), 1000).unref();
    });
    return this.settling ?? Promise.resolve();
  }
}

function leasable(phase: DrawPhase): boolean {
  return phase === 'none' || phase === 'drawn';
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
