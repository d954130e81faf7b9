// The side that takes orders off the queue and writes them: in the event loop that serves requests
// (inline), or in a worker thread of the same process with its own broker and database connections.
import type { OrderConsumer } from './OrderConsumer';
import type { OrderQueue } from './OrderQueue';

export interface OrderWriter {
  readonly where: 'inline' | 'thread';
  /** Starts (or resumes) taking orders off the queue; resolves once it is consuming. */
  start(): Promise<void>;
  /** True while a batch is in hand; with an empty queue, false means every order has been settled. */
  busy(): boolean;
  /** Connected and taking orders off the queue (false while it starts, restarts or is paused). */
  isUp(): boolean;
  /** Stops taking orders and lets the batch in hand finish (without waiting out a hold); start() resumes. For tests and drills. */
  pause(): Promise<void>;
  /** Stops for good: the batch in hand finishes, unsettled messages go back to the queue. */
  stop(): Promise<void>;
  /**
   * Stops like a killed process, as far as the writer can: the thread is terminated at once; inline, the
   * batch in hand is not waited for and nothing new is retried. Unsettled messages go back to the queue.
   */
  kill(): Promise<void>;
}

export class InlineOrderWriter implements OrderWriter {
  readonly where = 'inline' as const;
  private paused = false;

  constructor(
    private readonly queue: OrderQueue,
    private readonly consumer: OrderConsumer,
  ) {}

  async start(): Promise<void> {
    this.consumer.start();
    await this.queue.start(this.consumer.handle);
    this.paused = false;
  }

  busy(): boolean {
    return this.consumer.busy();
  }

  isUp(): boolean {
    return !this.paused && this.queue.isConnected();
  }

  pause(): Promise<void> {
    this.paused = true;
    this.consumer.release();
    return this.queue.stopConsuming();
  }

  async stop(): Promise<void> {
    this.consumer.stop();
    await this.queue.stopConsuming();
  }

  async kill(): Promise<void> {
    this.consumer.stop();
  }
}
