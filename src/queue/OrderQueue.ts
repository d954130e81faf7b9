// The contract between the purchase path (publisher) and the order writer (consumer).

export interface OrderMessage {
  requestId: string;
  saleId: number;
  userId: number;
  at: number;
  /** The stock lease the unit came from, when several instances share the stock. */
  leaseId?: number;
}

/**
 * One order handed to the consumer; exactly one of ack / retry / deadLetter must be called. A queue message
 * may carry several orders (see splitMessage): it is settled once all of its orders are.
 */
export interface Delivery {
  /** null when this part of the body is not a valid order. */
  message: OrderMessage | null;
  /** The whole queue message's body, for logs. */
  body: string;
  ack(): void;
  /** Put it back for another try (counts toward the delivery limit). */
  retry(): void;
  /** Park it in the dead-letter queue. */
  deadLetter(): void;
}

export type BatchHandler = (batch: Delivery[]) => Promise<void>;

/** What the order writer reports back about each order it settled, after the commit. */
export interface SettlementListener {
  /** The order row exists (written now, or earlier: a redelivery); the database is the record from here on. */
  written(requestId: string): void;
  /** The order will never be written: refused for good, or a second order for the same shopper. */
  failed(requestId: string): void;
}

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
  /** Connects (with retries); with a handler, also starts delivering batches to it. */
  start(handler?: BatchHandler): Promise<void>;
  /**
   * Resolves once the order is durably queued (broker confirm); rejects with one of the errors above.
   * Orders published in the same moment may travel together in one queue message.
   */
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

/** How a queue message is settled once every order in it is. */
export type Verdict = 'ack' | 'retry' | 'deadLetter';

/**
 * The orders in a queue message body: a JSON array of orders (what publishers send) or one order object.
 * Each part that is not a valid order is null; a body that is not JSON, or an empty array, is one null part.
 */
export function parseOrderBody(body: string): (OrderMessage | null)[] {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return [null];
  }
  if (!Array.isArray(v)) return [parseOrderMessage(v)];
  return v.length === 0 ? [null] : v.map(parseOrderMessage);
}

/**
 * One Delivery per order of a message. `settle` is called once, when the last of them is settled, with
 * the message's verdict: retry if any order asked for one (orders already written come back as duplicates,
 * which the writer skips by request id), else deadLetter if any order was given up on (the message is
 * parked whole: it may hold orders that were written, and replaying it is harmless), else ack.
 */
export function splitMessage(body: string, settle: (verdict: Verdict) => void): Delivery[] {
  const parts = parseOrderBody(body);
  let open = parts.length;
  let verdict: Verdict = 'ack';
  return parts.map((message) => {
    let settled = false;
    const part = (v: Verdict) => () => {
      if (settled) return;
      settled = true;
      if (v === 'retry' || (v === 'deadLetter' && verdict === 'ack')) verdict = v;
      if (--open === 0) settle(verdict);
    };
    return { message, body, ack: part('ack'), retry: part('retry'), deadLetter: part('deadLetter') };
  });
}

/** A validated order, or null. */
export function parseOrderMessage(v: unknown): OrderMessage | null {
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (typeof m.requestId !== 'string' || !/^[\w-]{8,36}$/.test(m.requestId)) return null;
  if (!isId(m.saleId) || !isId(m.userId) || typeof m.at !== 'number' || !Number.isFinite(m.at)) return null;
  if (m.leaseId !== undefined && !isId(m.leaseId)) return null;
  const order: OrderMessage = { requestId: m.requestId, saleId: m.saleId, userId: m.userId, at: m.at };
  if (m.leaseId !== undefined) order.leaseId = m.leaseId;
  return order;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 2 ** 31;
}
