// The shop's Prometheus metrics (prom-client): the process and event-loop defaults plus the shop's own series,
// all named `flashsale_*` in base units. The shop's series are read from counters the shop keeps anyway
// (PurchaseMeter, the histograms of the queue and the writer, the sale book) only when scraped, so nothing
// on the purchase path looks up a label or formats a line. Every series carries an `instance` label.
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Histogram } from '../lib/Histogram';
import type { WriterStats } from '../queue/WriterStats';
import type { OrderTracker } from './OrderTracker';
import type { PurchaseMeter } from './PurchaseMeter';
import type { SaleBook } from './SaleBook';
import type { ShopProbe } from './ShopProbe';

export interface MetricSources {
  meter: PurchaseMeter;
  /** Publish-confirm latency, observed by the RabbitMQ adapter. */
  confirmLatency: Histogram;
  writer: WriterStats;
  book: SaleBook;
  tracker: Pick<OrderTracker, 'pendingCount'>;
  probe: Pick<ShopProbe, 'read'>;
  lag: { lag(): number; overloaded(): boolean };
  captchas: { available(): number; readonly size: number };
  /** When several instances share the stock. */
  cluster?: ClusterFigures;
}

export interface ClusterFigures {
  /** Calls to the stock authority: moving units, and keeping time (renewals, membership). */
  authorityOps(): { stock: number; heartbeat: number };
  /** Leased units this instance holds and has not sold. */
  held(): number;
  members(): number;
  busMessages(): { sent: number; received: number };
}

type Labels = Record<string, string | number>;
interface Value {
  value: number;
  labels?: Labels;
  metricName?: string;
}
type MetricType = 'counter' | 'gauge' | 'histogram';

/** A metric whose values are read from elsewhere at scrape time; what prom-client's registry needs of one. */
class ReadMetric {
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly read: () => Value[] | Promise<Value[]>,
  ) {}

  async get() {
    return { name: this.name, help: this.help, type: this.type, values: await this.read(), aggregator: this.aggregator };
  }
}

export class ShopMetrics {
  readonly registry = new Registry();
  constructor(
    instance: string,
    s: MetricSources,
  ) {
    this.registry.setDefaultLabels({ instance });
    collectDefaultMetrics({ register: this.registry });
    const { meter } = s;
    const add = (name: string, help: string, type: MetricType, read: () => Value[] | Promise<Value[]>) =>
      this.registry.registerMetric(new ReadMetric(`flashsale_${name}`, help, type, read) as never);

    add('purchase_attempts_total', 'Purchase requests answered, by outcome (ACCEPTED or the refusal code).', 'counter', () =>
      Object.entries(meter.counts()).map(([outcome, value]) => ({ value, labels: { outcome } })),
    );
    add('purchases_accepted_total', 'Purchases accepted (202): a unit reserved and the order confirmed by the queue.', 'counter', () => [
      { value: meter.acceptedCount() },
    ]);
    add('purchase_duration_seconds', 'Time from a purchase request to its answer, in the process.', 'histogram', () =>
      histogramValues('flashsale_purchase_duration_seconds', meter.latency),
    );
    add('sale_stock_remaining', 'Units of a sale not yet sold, as the purchase path counts them.', 'gauge', () =>
      s.book.all().map((w) => ({ value: s.book.inventory.remaining(w.id), labels: { sale_id: w.id } })),
    );
    add('sale_stock_sold', 'Units of a sale sold (accepted) so far.', 'gauge', () =>
      s.book.all().map((w) => ({ value: w.stock - s.book.inventory.remaining(w.id), labels: { sale_id: w.id } })),
    );
    add('queue_publish_confirm_seconds', 'Time from publishing an order message to the broker\'s confirm (RabbitMQ only).', 'histogram', () =>
      histogramValues('flashsale_queue_publish_confirm_seconds', s.confirmLatency),
    );
    add('queue_depth_messages', 'Messages waiting in the order queue.', 'gauge', async () => orNone((await s.probe.read()).queueDepth));
    add('queue_dead_letter_messages', 'Messages parked in the dead-letter queue.', 'gauge', async () => orNone((await s.probe.read()).deadLetters));
    add('orders_pending', 'Orders accepted by this process and not yet written to the database.', 'gauge', () => [{ value: s.tracker.pendingCount() }]);
    add('writer_batch_orders', 'Orders per batch the order writer committed.', 'histogram', () =>
      histogramValues('flashsale_writer_batch_orders', s.writer.batchOrders),
    );
    add('writer_batch_duration_seconds', 'Time of the order writer\'s batch transactions.', 'histogram', () =>
      histogramValues('flashsale_writer_batch_duration_seconds', s.writer.batchSeconds),
    );
    add('orders_written_total', 'Order rows the order writer inserted.', 'counter', () => [{ value: s.writer.written }]);
    add('event_loop_lag_seconds', 'The event-loop lag the purchase path sheds load on (smoothed, as LagMonitor sees it).', 'gauge', () => [
      { value: s.lag.lag() / 1000 },
    ]);
    add('lag_shedding', '1 while purchases are shed for event-loop lag (503 OVERLOADED), else 0.', 'gauge', () => [
      { value: s.lag.overloaded() ? 1 : 0 },
    ]);
    add('captcha_pool_available', 'Captchas rendered and ready to hand out.', 'gauge', () => [{ value: s.captchas.available() }]);
    add('captcha_pool_size', 'The captcha pool\'s capacity (CAPTCHA_POOL_SIZE).', 'gauge', () => [{ value: s.captchas.size }]);
    const cluster = s.cluster;
    if (cluster) {
      add('cluster_authority_ops_total', 'Calls this instance made to the stock authority, by kind (stock: units moved; heartbeat: renewals and checks).', 'counter', () => {
        const ops = cluster.authorityOps();
        return [
          { value: ops.stock, labels: { kind: 'stock' } },
          { value: ops.heartbeat, labels: { kind: 'heartbeat' } },
        ];
      });
      add('cluster_leased_units', 'Leased units this instance holds and has not sold.', 'gauge', () => [{ value: cluster.held() }]);
      add('cluster_members', 'Instances alive, as this one last counted them.', 'gauge', () => [{ value: cluster.members() }]);
      add('cluster_bus_messages_total', 'Messages on the cluster bus, by direction.', 'counter', () => {
        const m = cluster.busMessages();
        return [
          { value: m.sent, labels: { direction: 'sent' } },
          { value: m.received, labels: { direction: 'received' } },
        ];
      });
    }
    add('dependency_up', '1 when a dependency answers: the database, the broker connection, the order writer.', 'gauge', async () => {
      const r = await s.probe.read();
      return [
        { value: r.database ? 1 : 0, labels: { dependency: 'database' } },
        { value: r.broker ? 1 : 0, labels: { dependency: 'broker' } },
        { value: r.writer ? 1 : 0, labels: { dependency: 'writer' } },
      ];
    });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function orNone(v: number | null): Value[] {
  return v === null ? [] : [{ value: v }];
}

function histogramValues(name: string, h: Histogram): Value[] {
  const cumulative = h.cumulative();
  const values: Value[] = h.bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: cumulative[i] }));
  values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative[cumulative.length - 1] });
  values.push({ metricName: `${name}_sum`, value: h.sum }, { metricName: `${name}_count`, value: h.count });
  return values;
}
