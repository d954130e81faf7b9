// The contract between the purchase path (publisher) and the order writer (consumer).

export interface OrderMessage {
  requestId: string;
  saleId: number;
  userId: number;
  at: number;
}

/** One message handed to the consumer; exactly one of ack / retry / deadLetter must be called. */
export interface Delivery {
  /** null when the body is not a valid order message. */
  message: OrderMessage | null;
  body: string;
  ack(): void;
  /** Put it back for another try (counts toward the delivery limit). */
  retry(): void;
  /** Park it in the dead-letter queue. */
  deadLetter(): void;
}

export type BatchHandler = (batch: Delivery[]) => Promise<void>;

/** Thrown by publish when the broker surely did not take the message (safe to give the unit back). */
export class PublishRefusedError extends Error {
  readonly definite = true;
}

/** Thrown by publish when the outcome is unknown (the connection dropped before the confirm). */
export class PublishUnknownError extends Error {
  readonly definite = false;
}

export interface OrderQueue {
  readonly kind: 'rabbitmq' | 'memory';
  /** Connects (with retries) and starts delivering batches to the handler. */
  start(handler: BatchHandler): Promise<void>;
  /** Resolves once the message is durably queued (broker confirm); rejects with one of the errors above. */
  publish(message: OrderMessage): Promise<void>;
  /** Messages waiting in the queue, not counting those being handled. */
  depth(): Promise<number>;
  /** Messages parked in the dead-letter queue. */
  deadLetterDepth(): Promise<number>;
  isConnected(): boolean;
  /** Stops delivering new batches; lets the batch in hand finish. */
  stopConsuming(): Promise<void>;
  close(): Promise<void>;
}

export function parseOrderMessage(body: string): OrderMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (typeof m.requestId !== 'string' || !/^[\w-]{8,36}$/.test(m.requestId)) return null;
  if (!isId(m.saleId) || !isId(m.userId) || typeof m.at !== 'number' || !Number.isFinite(m.at)) return null;
  return { requestId: m.requestId, saleId: m.saleId, userId: m.userId, at: m.at };
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 2 ** 31;
}
