// In-process stand-in for RabbitMQ: same interface and consumer, nothing survives the process.
import { BatchHandler, Delivery, OrderMessage, OrderQueue, splitMessage } from './OrderQueue';

interface Item {
  body: string;
  deliveries: number;
}

export class MemoryOrderQueue implements OrderQueue {
  readonly kind = 'memory' as const;
  private readonly ready: Item[] = [];
  private readonly dead: Item[] = [];
  private handler: BatchHandler | null = null;
  private busy = false;
  private consuming = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly batchSize = 1000,
    private readonly deliveryLimit = 5,
  ) {}

  async start(handler?: BatchHandler): Promise<void> {
    if (!handler) return;
    this.handler = handler;
    this.consuming = true;
    this.kick();
  }

  async publish(message: OrderMessage): Promise<void> {
    this.publishRaw(JSON.stringify(message));
  }

  /** For tests: any body, as it would arrive from a broker. */
  publishRaw(body: string): void {
    this.ready.push({ body, deliveries: 0 });
    this.kick();
  }

  async depth(): Promise<number> {
    return this.ready.length;
  }

  async deadLetterDepth(): Promise<number> {
    return this.dead.length;
  }

  isConnected(): boolean {
    return true;
  }

  async stopConsuming(): Promise<void> {
    this.consuming = false;
    await this.idle;
  }

  async close(): Promise<void> {
    await this.stopConsuming();
  }

  private kick(): void {
    if (this.busy || !this.consuming || !this.handler || this.ready.length === 0) return;
    this.busy = true;
    // Let publishes of the same tick gather into one batch.
    this.idle = new Promise<void>((resolve) => setImmediate(() => this.runBatch().finally(resolve)));
  }

  private async runBatch(): Promise<void> {
    const items = this.ready.splice(0, this.batchSize);
    const deliveries = items.flatMap((item) => this.deliveries(item));
    try {
      await this.handler!(deliveries);
    } finally {
      this.busy = false;
      this.kick();
    }
  }

  private deliveries(item: Item): Delivery[] {
    item.deliveries += 1;
    return splitMessage(item.body, (verdict) => {
      if (verdict === 'deadLetter' || (verdict === 'retry' && item.deliveries >= this.deliveryLimit)) this.dead.push(item);
      else if (verdict === 'retry') this.ready.push(item);
    });
  }
}
