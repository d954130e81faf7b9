// What the instances of one shop tell each other (docs/CLUSTER.md), over a RabbitMQ fanout exchange: each
// instance binds a queue of its own that the broker deletes when the instance goes. News of one event-loop turn
// travels in one message. Nothing here must arrive for a purchase to be safe: an instance that may have missed
// news (its connection dropped) is told so (`onGap`) and settles again from the database.
import * as amqp from 'amqplib';
import type { Logger } from 'pino';

export type ClusterNews =
  | { t: 'bought'; sale: number; users: number[] }
  | { t: 'exhausted'; sale: number }
  | { t: 'restocked'; sale: number }
  | { t: 'written'; ids: string[] }
  | { t: 'failed'; ids: string[] }
  | { t: 'blacklist' }
  | { t: 'revoked'; user: number; floor: number }
  | { t: 'sale'; sale: number }
  | { t: 'held'; sale: number; units: number }
  | { t: 'hello' };

export interface ClusterListener {
  /** News from the instance (incarnation) `from`. */
  news(news: ClusterNews, from: string): void;
  /** The bus went down (`up` false: news is being missed) or came back (`up` true: some news was missed). */
  gap(up: boolean): void;
}

export class ClusterBus {
  private conn: amqp.ChannelModel | null = null;
  private ch: amqp.Channel | null = null;
  private listener: ClusterListener | null = null;
  private closing = false;
  private reconnectDelay = 100;
  private outbox: ClusterNews[] = [];
  private bought = new Map<number, number[]>();
  private written: string[] = [];
  private failed: string[] = [];
  private scheduled = false;
  /** Messages sent and received, for the bench. */
  sent = 0;
  received = 0;

  constructor(
    private readonly url: string,
    private readonly exchange: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  async start(listener: ClusterListener): Promise<void> {
    this.listener = listener;
    await this.connect();
  }

  /** A shopper bought here: sent with the others of this turn. */
  boughtHere(saleId: number, userId: number): void {
    const users = this.bought.get(saleId);
    if (users) users.push(userId);
    else this.bought.set(saleId, [userId]);
    this.schedule();
  }

  /** Orders this instance's writer wrote (or gave up on) that another instance accepted. */
  settled(requestId: string, written: boolean): void {
    (written ? this.written : this.failed).push(requestId);
    this.schedule();
  }

  send(news: ClusterNews): void {
    this.outbox.push(news);
    this.schedule();
  }

  /** Sends what is waiting, then closes: the channel first, which the broker acknowledges after the messages sent on it. */
  async close(): Promise<void> {
    this.flush();
    this.closing = true;
    const { conn, ch } = this;
    this.conn = this.ch = null;
    await ch?.close().catch(() => undefined);
    await conn?.close().catch(() => undefined);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.outbox;
    this.outbox = [];
    for (const [sale, users] of this.bought) batch.push({ t: 'bought', sale, users });
    this.bought = new Map();
    if (this.written.length > 0) batch.push({ t: 'written', ids: this.written });
    if (this.failed.length > 0) batch.push({ t: 'failed', ids: this.failed });
    this.written = [];
    this.failed = [];
    if (batch.length === 0) return;
    const ch = this.ch;
    if (!ch) return; // missed by the others: they settle again when they see this instance's gap or death
    ch.publish(this.exchange, '', Buffer.from(JSON.stringify({ from: this.instanceId, news: batch })));
    this.sent += 1;
  }

  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url, { noDelay: true });
    conn.on('error', (err) => this.log.warn({ err: err.message }, 'cluster bus connection error'));
    conn.on('close', () => this.onClose(conn));
    const ch = await conn.createChannel();
    await ch.assertExchange(this.exchange, 'fanout', { durable: false, autoDelete: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await ch.bindQueue(queue, this.exchange, '');
    await ch.consume(queue, (msg) => msg && this.receive(msg.content), { noAck: true });
    this.conn = conn;
    this.ch = ch;
    this.reconnectDelay = 100;
  }

  private receive(body: Buffer): void {
    let parsed: { from?: unknown; news?: unknown };
    try {
      parsed = JSON.parse(body.toString()) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.from !== 'string' || parsed.from === this.instanceId || !Array.isArray(parsed.news)) return;
    this.received += 1;
    for (const news of parsed.news as ClusterNews[]) {
      try {
        this.listener?.news(news, parsed.from);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cluster news not applied');
      }
    }
  }

  private onClose(conn: amqp.ChannelModel): void {
    if (this.conn !== conn && this.conn !== null) return;
    this.conn = this.ch = null;
    if (this.closing) return;
    this.log.warn('cluster bus lost; reconnecting');
    this.listener?.gap(false);
    const retry = () => {
      if (this.closing) return;
      this.connect().then(
        () => {
          this.log.info('cluster bus back');
          this.listener?.gap(true);
        },
        () => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
          setTimeout(retry, this.reconnectDelay).unref();
        },
      );
    };
    setTimeout(retry, this.reconnectDelay).unref();
  }
}
