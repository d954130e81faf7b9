// The stock of one instance among several (docs/CLUSTER.md): each sale is sold from a slice leased from the
// authority (LeaseRepository), so the purchase itself stays a synchronous step in memory, as in one process.
// The slice is topped up in the background before it runs out, in leases that shrink as the stock does, and
// handed back when the authority is empty and this instance's shoppers have stopped buying. Buyers of every
// instance are known from the cluster's broadcast; a shopper this instance cannot vouch for waits (RESTOCKING)
// while the cluster's buyers are not settled (an instance joined or died).
import type { Logger } from 'pino';
import type { Grant } from '../repositories/LeaseRepository';
import { LeaseFencedError } from '../repositories/LeaseRepository';
import type { Inventory, ReserveResult } from './SaleBook';

/** The authority as the inventory uses it: bound to this instance and its lease lifetime. */
export interface StockAuthority {
  take(saleId: number, leaseId: number | null, want: number): Promise<Grant>;
  giveBack(leaseId: number, units: number): Promise<boolean>;
}

/** What the inventory tells the other instances. */
export interface StockNews {
  bought(saleId: number, userId: number): void;
  exhausted(saleId: number): void;
  restocked(saleId: number): void;
  /** This instance's slice went from empty to holding units, or back to empty. */
  held(saleId: number, units: number): void;
}

export interface LeaseSizing {
  /** Instances selling, to split what is left between them. */
  members: () => number;
  /** The largest lease taken at once. */
  maxLease: number;
  /** A slice idle this long while the authority is empty goes back to it. */
  idleGiveBackMs: number;
}

interface Slice {
  leaseId: number | null;
  /** When the lease was first granted here (a renewal sent before then cannot know it). */
  leasedAt: number;
  /** Leased units not yet sold here. */
  available: number;
  /** The authority's unleased units as last heard, for the lease size and the page's figure. */
  unleased: number;
  /** The authority has nothing left (as last heard): an empty slice then means sold out. */
  exhausted: boolean;
  /** Counts the restocks heard: a lease answered after one must not mark the authority empty on stale news. */
  restocks: number;
  refilling: boolean;
  lastSaleAt: number;
  buyers: Set<number>;
  /** Shoppers who reached the reserve step here while the cluster's buyers were settled. */
  seen: Set<number>;
  /** Other instances (incarnations) holding leased units of the sale, as they told. */
  peersHolding: Set<string>;
}

export class LeasedInventory implements Inventory {
  private readonly slices = new Map<number, Slice>();
  /** Until when the leases are surely still ours: the last renewal's start plus its lifetime, less a margin. */
  private validUntil = 0;
  /** Whether every buyer of the cluster is known here (see settle()). */
  private settled = false;
  /** Sales with a silent instance's lease not yet reclaimed: units may come back, so not sold out yet. */
  private awaitingReturn = new Set<number>();

  constructor(
    private readonly authority: StockAuthority,
    private readonly news: StockNews,
    private readonly sizing: LeaseSizing,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A sale's slice, fresh; one that holds a lease keeps it (its units are this instance's to sell). */
  load(saleId: number, remaining: number, buyers: Iterable<number>): void {
    const old = this.slices.get(saleId);
    if (old && old.leaseId !== null) {
      for (const u of buyers) old.buyers.add(u);
      return;
    }
    this.slices.set(saleId, {
      leaseId: null,
      leasedAt: 0,
      available: 0,
      unleased: Math.max(0, remaining),
      exhausted: remaining <= 0,
      restocks: 0,
      refilling: false,
      lastSaleAt: 0,
      buyers: new Set(buyers),
      seen: old?.seen ?? new Set(),
      peersHolding: old?.peersHolding ?? new Set(),
    });
  }

  forget(saleId: number): void {
    this.slices.delete(saleId);
  }

  remaining(saleId: number): number {
    const s = this.slices.get(saleId);
    if (!s) return 0;
    return s.available + (s.exhausted ? 0 : s.unleased);
  }

  /** Nothing left anywhere: not here, not at the authority, not held by another instance, and none coming back. */
  isSoldOut(saleId: number): boolean {
    const s = this.slices.get(saleId);
    return !s || (s.available <= 0 && s.exhausted && s.peersHolding.size === 0 && !this.awaitingReturn.has(saleId));
  }

  hasBought(saleId: number, userId: number): boolean {
    return this.slices.get(saleId)?.buyers.has(userId) ?? false;
  }

  /**
   * Whether this shopper must wait: the leases are not surely ours any more (fenced), the slice is empty
   * while the authority still has units (a refill is on its way), or the cluster's buyers are unsettled and
   * the shopper was not served here before.
   */
  stalled(saleId: number, userId: number, now: number): boolean {
    const s = this.slices.get(saleId);
    if (!s) return false;
    if (now >= this.validUntil) return true;
    if (s.available <= 0) {
      this.refill(saleId, s); // nothing to do while the authority is empty (a silent instance's units may come back)
      return true;
    }
    if (!this.settled) return !s.seen.has(userId);
    s.seen.add(userId);
    return false;
  }

  tryReserve(saleId: number, userId: number): ReserveResult {
    const s = this.slices.get(saleId);
    if (!s || s.available <= 0) return 'sold_out';
    if (s.buyers.has(userId)) return 'already_bought';
    s.available -= 1;
    s.buyers.add(userId);
    s.lastSaleAt = this.clock();
    this.news.bought(saleId, userId);
    if (s.available === 0) this.news.held(saleId, 0);
    if (s.available <= this.lowWater(s)) this.refill(saleId, s);
    return 'reserved';
  }

  /** The lease the next reserved unit of the sale comes from. */
  leaseOf(saleId: number): number | undefined {
    return this.slices.get(saleId)?.leaseId ?? undefined;
  }

  /** A unit back after a publish that surely failed; only into the lease it came from (else that lease's count has it). */
  release(saleId: number, userId: number, leaseId?: number): void {
    const s = this.slices.get(saleId);
    if (!s || !s.buyers.delete(userId)) return;
    if (leaseId === undefined || leaseId === s.leaseId) {
      s.available += 1;
      if (s.available === 1) this.news.held(saleId, 1);
    }
  }

  // --- what the cluster service tells the inventory ---

  /** The leases were renewed by a call sent at `sentAt`: they are ours until `sentAt + ttl`, less a margin. */
  renewed(sentAt: number, ttlMs: number, activeLeases: number[]): void {
    this.validUntil = sentAt + ttlMs - Math.max(500, ttlMs / 5);
    const active = new Set(activeLeases);
    for (const [saleId, s] of this.slices) {
      if (s.leaseId !== null && !active.has(s.leaseId) && s.leasedAt < sentAt) this.dropLease(saleId, s);
    }
  }

  /** Buyers of other instances, as broadcast. */
  addBuyers(saleId: number, userIds: Iterable<number>): void {
    const s = this.slices.get(saleId);
    if (s) for (const u of userIds) s.buyers.add(u);
  }

  markExhausted(saleId: number): void {
    const s = this.slices.get(saleId);
    if (s) {
      s.exhausted = true;
      s.unleased = 0;
    }
  }

  /** What another instance holds of a sale (0: nothing, or it left). */
  peerHolds(peer: string, saleId: number, units: number): void {
    const s = this.slices.get(saleId);
    if (!s) return;
    if (units > 0) s.peersHolding.add(peer);
    else s.peersHolding.delete(peer);
  }

  /** A peer is gone (left, or its leases were reclaimed): it holds nothing any more. */
  forgetPeer(peer: string): void {
    for (const s of this.slices.values()) s.peersHolding.delete(peer);
  }

  /** Only these instances are alive: any other's holding, as last told, is gone with it. */
  keepPeers(alive: ReadonlySet<string>): void {
    for (const s of this.slices.values()) for (const peer of s.peersHolding) if (!alive.has(peer)) s.peersHolding.delete(peer);
  }

  /** What this instance holds, sale by sale (told to a joining instance). */
  holdings(): { saleId: number; units: number }[] {
    return [...this.slices].filter(([, s]) => s.available > 0).map(([saleId, s]) => ({ saleId, units: s.available }));
  }

  markRestocked(saleId: number): void {
    const s = this.slices.get(saleId);
    if (!s) return;
    s.exhausted = false;
    s.restocks += 1;
  }

  /** The sales whose units a silent instance holds, until its leases are reclaimed (then `restocked`). */
  awaitReturns(saleIds: Iterable<number>): void {
    this.awaitingReturn = new Set(saleIds);
  }

  /** An instance joined or died: until settle(), only shoppers already served here may buy. */
  unsettle(): void {
    this.settled = false;
  }

  /** Every buyer of the cluster is known: the database's (after the barrier) and the broadcasts since. */
  settle(buyersBySale: Map<number, number[]>): void {
    for (const [saleId, buyers] of buyersBySale) this.addBuyers(saleId, buyers);
    this.settled = true;
  }

  isSettled(): boolean {
    return this.settled;
  }

  /** Sales with no lease yet that open soon, leased ahead so the opening finds stock here. */
  prepare(saleIds: Iterable<number>): void {
    for (const id of saleIds) {
      const s = this.slices.get(id);
      if (s && s.leaseId === null && !s.exhausted) this.refill(id, s);
    }
  }

  /** Slices idle while the authority is empty go back, so that no unit waits here while others have shoppers. */
  giveBackIdle(): void {
    const now = this.clock();
    for (const [saleId, s] of this.slices) {
      if (!s.exhausted || s.available <= 0 || s.leaseId === null || now - s.lastSaleAt < this.sizing.idleGiveBackMs) continue;
      const units = s.available;
      const leaseId = s.leaseId;
      s.available = 0;
      this.news.held(saleId, 0);
      this.authority.giveBack(leaseId, units).then(
        (ok) => {
          if (!ok) return;
          s.unleased += units;
          s.exhausted = false;
          this.news.restocked(saleId);
          this.log.info({ saleId, units }, 'idle stock given back');
        },
        (err: Error) => this.log.warn({ saleId, units, err: err.message }, 'idle stock not given back; it returns with the lease'),
      );
    }
  }

  /** The active lease of each sale, for the return on shutdown. */
  leases(): { saleId: number; leaseId: number }[] {
    const out: { saleId: number; leaseId: number }[] = [];
    for (const [saleId, s] of this.slices) if (s.leaseId !== null) out.push({ saleId, leaseId: s.leaseId });
    return out;
  }

  /** Leased units held here and not sold, over every sale. */
  held(): number {
    let n = 0;
    for (const s of this.slices.values()) n += s.available;
    return n;
  }

  /** Stops selling from every lease (before they are returned). */
  fence(): void {
    this.validUntil = 0;
  }

  /** The leases are returned: nothing is held here any more. */
  emptied(): void {
    for (const [saleId, s] of this.slices) {
      if (s.available > 0) this.news.held(saleId, 0);
      s.available = 0;
    }
  }

  private lowWater(s: Slice): number {
    return Math.ceil(this.leaseSize(s) / 4);
  }

  /** What is left split between the instances, twice over, so each refill takes a shrinking share. */
  private leaseSize(s: Slice): number {
    const share = Math.ceil(s.unleased / (2 * Math.max(1, this.sizing.members())));
    return Math.max(1, Math.min(this.sizing.maxLease, share));
  }

  private refill(saleId: number, s: Slice): void {
    if (s.refilling || s.exhausted) return;
    s.refilling = true;
    const want = this.leaseSize(s);
    const restocks = s.restocks;
    this.authority.take(saleId, s.leaseId, want).then(
      (grant) => {
        s.refilling = false;
        if (this.slices.get(saleId) !== s) return;
        if (s.leaseId !== grant.leaseId) s.leasedAt = this.clock();
        s.leaseId = grant.leaseId;
        if (s.available === 0 && grant.took > 0) this.news.held(saleId, grant.took);
        s.available += grant.took;
        s.unleased = grant.unleasedLeft;
        if (grant.unleasedLeft === 0 && !s.exhausted && s.restocks === restocks) {
          s.exhausted = true;
          this.news.exhausted(saleId);
        }
      },
      (err: Error) => {
        s.refilling = false;
        if (err instanceof LeaseFencedError) this.dropLease(saleId, s);
        else this.log.warn({ saleId, err: err.message }, 'stock lease not taken');
      },
    );
  }

  /** Our lease was ended by another instance (we could not renew it in time): its units are no longer ours. */
  private dropLease(saleId: number, s: Slice): void {
    this.log.warn({ saleId, leaseId: s.leaseId, units: s.available }, 'stock lease lost; its units went back to the other instances');
    s.leaseId = null;
    if (s.available > 0) this.news.held(saleId, 0);
    s.available = 0;
  }
}
