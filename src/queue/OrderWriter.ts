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
  /** Stops taking orders and lets the batch in hand finish; start() resumes. For tests and drills. */
  pause(): Promise<void>;
  /** Stops for good: the batch in hand finishes, unsettled messages go back to the queue. */
  stop(): Promise<void>;
  /** Stops like a killed process: nothing is finished, unsettled messages go back to the queue. */
  kill(): Promise<void>;
}

export class InlineOrderWriter implements OrderWriter {
  readonly where = 'inline' as const;

  constructor(
    private readonly queue: OrderQueue,
    private readonly consumer: OrderConsumer,
  ) {}

  start(): Promise<void> {
    return this.queue.start(this.consumer.handle);
  }

  busy(): boolean {
    return this.consumer.busy();
  }

  pause(): Promise<void> {
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
