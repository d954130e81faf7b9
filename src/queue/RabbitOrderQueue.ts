// RabbitMQ adapter: a durable quorum queue with a delivery limit and a dead-letter queue, persistent
// messages published on a confirm channel, batched consumption with manual acks, reconnect with backoff.
// Orders published in the same event-loop turn share a message (up to ordersPerMessage): the broker's work
// and amqplib's encoding are per message, so a crowd's orders cost a fraction of one message each.
import * as amqp from 'amqplib';
import type { Logger } from 'pino';
import { Histogram } from '../lib/Histogram';
import {
  BatchHandler,
  Delivery,
  OrderMessage,
  OrderQueue,
  PublishRefusedError,
  PublishUnknownError,
  splitMessage,
  Verdict,
} from './OrderQueue';

export interface RabbitOptions {
  url: string;
  queue: string;
  prefetch?: number;
  batchSize?: number;
  /** How long a partial batch waits for more messages. */
  batchWaitMs?: number;
  deliveryLimit?: number;
  /**
   * Most orders one message carries (default 64). Large enough that the broker's per-message work (a quorum
   * queue's log entry, delivery, ack, confirm) is shared by many orders (`npm run bench:broker` measures it;
   * docs/PERFORMANCE.md has the figures). Small enough that a busy turn sends several messages, so the first
   * confirms are on their way while the turn is still served.
   */
  ordersPerMessage?: number;
  /** How long start() keeps trying to reach the broker. */
  startTimeoutMs?: number;
  /** Queues unused this long are removed by the broker (`x-expires`); for scratch queues only. 0, the default: never. */
  expiresMs?: number;
}

/** Buckets of the publish-confirm latency, in seconds. */
export const CONFIRM_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class RabbitOrderQueue implements OrderQueue {
  readonly kind = 'rabbitmq' as const;
  private readonly deadQueue: string;
  private conn: amqp.ChannelModel | null = null;
  private pub: amqp.ConfirmChannel | null = null;
  private sub: amqp.Channel | null = null;
  private consumerTag: string | null = null;
  private handler: BatchHandler | null = null;
  private consuming = false;
  private closing = false;
  private reconnectDelay = 100;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Orders waiting for the end of this turn to be published together. */
  private outbox: { message: OrderMessage; resolve: () => void; reject: (err: Error) => void }[] = [];
  private outboxScheduled = false;
  /** Delivered messages not yet handed to the handler, each as its orders. */
  private pending: Delivery[][] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private writing = false;
  private connecting: Promise<void> | null = null;

  /**
   * Every option with its default filled in, in one fixed order, so that the shop's queue and the
   * rehearsal's have the same shape (see buildPurchasePath).
   */
  private readonly options: Required<RabbitOptions>;

  constructor(
    options: RabbitOptions,
    private readonly log: Logger,
    /** Seconds from sending a message to the broker's confirm, one observation per message. */
    private readonly confirmLatency: Histogram = new Histogram(CONFIRM_SECONDS),
  ) {
    this.options = {
      url: options.url,
      queue: options.queue,
      prefetch: options.prefetch ?? 2000,
      batchSize: options.batchSize ?? 1000,
      batchWaitMs: options.batchWaitMs ?? 2,
      deliveryLimit: options.deliveryLimit ?? 5,
      ordersPerMessage: options.ordersPerMessage ?? 64,
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      expiresMs: options.expiresMs ?? 0,
    };
    this.deadQueue = `${options.queue}.dead`;
  }

  async start(handler?: BatchHandler): Promise<void> {
    if (handler) {
      this.handler = handler;
      this.consuming = true;
    }
    if (this.conn) {
      if (!this.consuming) return;
      this.sub ??= await this.consumeChannel(this.conn);
      return this.subscribe(this.sub);
    }
    // A broker that comes up a little after the app (compose, restarts) is waited for, within reason.
    const deadline = Date.now() + this.options.startTimeoutMs;
    for (let delay = 200; ; delay = Math.min(delay * 2, 3000)) {
      try {
        return await this.connect();
      } catch (err) {
        if (this.closing || Date.now() + delay > deadline) throw err;
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'broker not reachable yet');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Connects once and declares the topology; used by start() and by tools that only publish. */
  async connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  publish(message: OrderMessage): Promise<void> {
    if (!this.pub) return Promise.reject(new PublishRefusedError('not connected to the broker'));
    return new Promise<void>((resolve, reject) => {
      this.outbox.push({ message, resolve, reject });
      if (this.outbox.length >= this.options.ordersPerMessage) this.sendOutbox();
      else if (!this.outboxScheduled) {
        this.outboxScheduled = true;
        setImmediate(this.flushOutbox);
      }
    });
  }

  private readonly flushOutbox = (): void => {
    this.outboxScheduled = false;
    this.sendOutbox();
  };

  private sendOutbox(): void {
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    const fail = (err: Error) => {
      for (const o of batch) o.reject(err);
    };
    const ch = this.pub;
    if (!ch) return fail(new PublishRefusedError('not connected to the broker'));
    try {
      const body = Buffer.from(JSON.stringify(batch.map((o) => o.message)));
      const sentAt = performance.now();
      ch.sendToQueue(this.options.queue, body, { persistent: true, contentType: 'application/json' }, (err) => {
        this.confirmLatency.observe((performance.now() - sentAt) / 1000);
        if (!err) for (const o of batch) o.resolve();
        // A broker nack ('message nacked') is not proof that the message is absent (a quorum queue may nack
        // one it could not confirm in time), and a lost channel proves nothing: both are unknown outcomes,
        // whose units stay reserved until the drained queue shows whether the orders arrived.
        else fail(new PublishUnknownError(/nacked/.test(err.message) ? 'the broker nacked the message' : 'the channel closed before the broker confirmed'));
      });
    } catch (err) {
      fail(new PublishRefusedError((err as Error).message));
    }
  }

  /** For tests and fault drills: a raw body straight onto the order queue. */
  async publishRaw(body: string): Promise<void> {
    const ch = this.pub;
    if (!ch) throw new PublishRefusedError('not connected to the broker');
    ch.sendToQueue(this.options.queue, Buffer.from(body), { persistent: true });
    await ch.waitForConfirms();
  }

  async depth(): Promise<number> {
    return this.count(this.options.queue);
  }

  /** Messages waiting and consumers attached, as the broker counts them. */
  async stats(): Promise<{ messages: number; consumers: number }> {
    if (!this.conn) throw new Error('not connected to the broker');
    const ch = await this.conn.createChannel();
    try {
      const q = await ch.checkQueue(this.options.queue);
      return { messages: q.messageCount, consumers: q.consumerCount };
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async deadLetterDepth(): Promise<number> {
    return this.count(this.deadQueue);
  }

  isConnected(): boolean {
    return this.pub !== null;
  }

  async stopConsuming(): Promise<void> {
    this.consuming = false;
    if (this.sub && this.consumerTag) await this.sub.cancel(this.consumerTag).catch(() => undefined);
    this.consumerTag = null;
    do {
      this.flushNow();
      await this.running;
    } while (this.sub && this.pending.length > 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.stopConsuming();
    const conn = this.conn;
    this.conn = this.pub = this.sub = null;
    await conn?.close().catch(() => undefined);
  }

  /** Removes both queues; for test isolation only. */
  async destroy(): Promise<void> {
    const ch = this.pub;
    if (ch) {
      await ch.deleteQueue(this.options.queue).catch(() => undefined);
      await ch.deleteQueue(this.deadQueue).catch(() => undefined);
    }
    await this.close();
  }

  private async count(queue: string): Promise<number> {
    if (!this.conn) throw new Error('not connected to the broker');
    const ch = await this.conn.createChannel();
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  private async open(): Promise<void> {
    // amqplib leaves Nagle's algorithm on; small publish and ack frames would then wait for the broker's
    // delayed ACKs, and every purchase waits for its confirm.
    const conn = await amqp.connect(this.options.url, { noDelay: true });
    conn.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    conn.on('close', () => this.onClose(conn));
    try {
      const pub = await conn.createConfirmChannel();
      pub.on('error', (err) => this.log.warn({ err: err.message }, 'publish channel error'));
      if (this.closing) throw new Error('the queue was closed while connecting');
      await this.declare(pub);
      // A publisher-only queue (the main thread when a writer thread consumes) opens no consume channel.
      const sub = this.consuming ? await this.consumeChannel(conn) : null;
      // close() was called while this connection was being made: it must not start publishing or consuming.
      if (this.closing) throw new Error('the queue was closed while connecting');
      this.conn = conn;
      this.pub = pub;
      this.sub = sub;
      if (sub) await this.subscribe(sub);
      this.reconnectDelay = 100;
      this.log.info({ queue: this.options.queue }, 'connected to RabbitMQ');
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  private async consumeChannel(conn: amqp.ChannelModel): Promise<amqp.Channel> {
    const sub = await conn.createChannel();
    sub.on('error', (err) => this.log.warn({ err: err.message }, 'consume channel error'));
    await sub.prefetch(this.options.prefetch);
    return sub;
  }

  private async subscribe(sub: amqp.Channel): Promise<void> {
    if (this.consumerTag) return;
    const { consumerTag } = await sub.consume(this.options.queue, (msg) => msg && this.onMessage(sub, msg), { noAck: false });
    this.consumerTag = consumerTag;
  }

  private async declare(ch: amqp.ConfirmChannel): Promise<void> {
    const deadLetter = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.deadQueue };
    const expires = this.options.expiresMs ? { 'x-expires': this.options.expiresMs } : {};
    await ch.assertQueue(this.deadQueue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...expires } });
    await ch.assertQueue(this.options.queue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': this.options.deliveryLimit, ...deadLetter, ...expires },
    });
  }

  private onClose(conn: amqp.ChannelModel): void {
    if (this.conn !== conn && this.conn !== null) return;
    this.conn = this.pub = this.sub = null;
    this.consumerTag = null;
    // Unacked messages go back to the queue on the broker; drop our copies, they will be redelivered.
    this.pending = [];
    if (this.closing) return;
    this.log.warn({ retryInMs: this.reconnectDelay }, 'lost the broker connection; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closing) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((err) => {
        this.log.warn({ err: (err as Error).message, retryInMs: this.reconnectDelay }, 'broker reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
    this.pending.push(splitMessage(msg.content.toString('utf8'), (verdict) => this.settle(ch, msg, verdict)));
    if (!this.writing) this.flushTimer ??= setTimeout(() => this.flushNow(), this.options.batchWaitMs);
  }

  /**
   * One batch at a time, and each takes everything that arrived meanwhile (whole messages, up to about
   * batchSize orders): batches grow by themselves when the database is the slow part, which is when they help.
   */
  private flushNow(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.writing || this.pending.length === 0 || !this.sub) return;
    const limit = this.options.batchSize;
    const batch: Delivery[] = [];
    let taken = 0;
    while (taken < this.pending.length && batch.length < limit) batch.push(...this.pending[taken++]);
    this.pending.splice(0, taken);
    this.writing = true;
    this.running = this.handler!(batch)
      .catch((err) => this.log.error({ err }, 'order batch handler failed'))
      .finally(() => {
        this.writing = false;
        this.flushNow();
      });
  }

  private settle(ch: amqp.Channel, msg: amqp.ConsumeMessage, verdict: Verdict): void {
    // A channel that has closed since delivery cannot ack; the broker redelivers and we dedupe.
    if (this.sub !== ch) return;
    try {
      if (verdict === 'ack') ch.ack(msg);
      else ch.nack(msg, false, verdict === 'retry');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not settle a delivery');
    }
  }
}
