// A publish whose confirm is lost keeps its unit until the queue shows the message never arrived.
import pino from 'pino';
import { PublishUnknownError, type OrderQueue } from '../../src/queue/OrderQueue';
import type { OrderRepository } from '../../src/repositories/OrderRepository';
import type { SaleRepository } from '../../src/repositories/SaleRepository';
import type { BlacklistService } from '../../src/services/BlacklistService';
import { OrderTracker } from '../../src/services/OrderTracker';
import { PurchaseService } from '../../src/services/PurchaseService';
import { RecoveryService } from '../../src/services/RecoveryService';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';
import { TicketService } from '../../src/services/TicketService';
import { MemoryUserGate } from '../../src/services/UserGate';

const log = pino({ level: 'silent' });

function setup(writtenIds: Set<string>) {
  const book = new SaleBook(new MemoryInventory());
  book.put({ id: 1, startsAt: 0, endsAt: Date.now() + 60_000, stock: 1 });
  book.inventory.load(1, 1, []);
  const tickets = new TicketService(Buffer.alloc(16, 1));
  const queue = {
    kind: 'rabbitmq',
    publish: async () => {
      throw new PublishUnknownError('channel closed');
    },
    depth: async () => 0,
    isConnected: () => true,
  } as unknown as OrderQueue;
  const tracker = new OrderTracker();
  const blacklist = { isBlocked: () => false } as unknown as BlacklistService;
  const purchases = new PurchaseService(book, new MemoryUserGate(0), blacklist, tickets, queue, tracker, log);
  purchases.open();
  const orders = { findByRequestId: async (id: string) => (writtenIds.has(id) ? { requestId: id } : null) } as unknown as OrderRepository;
  const writer = { busy: () => false };
  const recovery = new RecoveryService(queue, writer, {} as SaleRepository, orders, book, blacklist, log);
  const attempt = () =>
    purchases.attempt({ saleId: 1, userId: 7, ip: '127.0.0.1', path: tickets.pathFor(1, 7), ticket: tickets.issue(1, 7), now: Date.now() });
  return { book, purchases, recovery, tracker, attempt };
}

describe('unknown publish outcome', () => {
  it('when the confirm is lost, then 503 with the request id and the unit stays reserved', async () => {
    const { book, attempt } = setup(new Set());

    const result = await attempt();

    expect(result).toMatchObject({ ok: false, status: 503, code: 'QUEUE_UNAVAILABLE' });
    expect(result.ok === false && result.requestId).toBeTruthy();
    expect(book.inventory.remaining(1)).toBe(0);
  });

  it('when the drained queue never wrote it, then the unit goes back and the request is failed', async () => {
    const { book, purchases, recovery, tracker, attempt } = setup(new Set());
    const result = await attempt();

    await recovery.reconcileUncertain(purchases);

    expect(book.inventory.remaining(1)).toBe(1);
    expect(book.inventory.hasBought(1, 7)).toBe(false);
    expect(tracker.get(result.ok ? '' : result.requestId!)?.state).toBe('failed');
    expect(purchases.uncertainRequests()).toHaveLength(0);
  });

  it('when the message did arrive and was written, then the unit stays sold', async () => {
    const written = new Set<string>();
    const { book, purchases, recovery, attempt } = setup(written);
    const result = await attempt();
    written.add(result.ok ? '' : result.requestId!);

    await recovery.reconcileUncertain(purchases);

    expect(book.inventory.remaining(1)).toBe(0);
    expect(book.inventory.hasBought(1, 7)).toBe(true);
  });
});
