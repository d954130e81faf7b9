// The order consumer's object graph, built in one place for both writers: inline (the container) and the
// worker thread (orderWriterThread), so the two cannot drift apart.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { PurchasePace } from '../lib/PurchasePace';
import { HealthRepository } from '../repositories/HealthRepository';
import { OrderRepository } from '../repositories/OrderRepository';
import { BatchObserver, OrderConsumer } from './OrderConsumer';
import type { SettlementListener } from './OrderQueue';
import { HoldSettings, WriterHold } from './WriterHold';

export interface ConsumerParts {
  dataSource: DataSource;
  databaseKind: string;
  settled: SettlementListener;
  /** The pace of accepted purchases, which the writer's hold watches. */
  pace: PurchasePace;
  hold: HoldSettings;
  log: Logger;
  /** Told of every committed batch (the shop's metrics). */
  batches?: BatchObserver;
}

export function buildOrderConsumer(p: ConsumerParts): OrderConsumer {
  const health = new HealthRepository(p.dataSource, p.databaseKind);
  return new OrderConsumer(new OrderRepository(p.dataSource), p.settled, () => health.ping(), p.log, new WriterHold(p.pace, p.hold), p.batches);
}
