// `npm run bench:broker`: what one order costs RabbitMQ and this process, for several message sizes, through
// the app's own RabbitOrderQueue (confirm channel, durable quorum queue, batched consume, acks).
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run bench:broker -- [--orders 20000] [--sizes 1,16,64,256] [--rounds 3]
//
// Each round publishes --orders orders, as many at a time as 256 shoppers would have in flight, in messages
// of up to K orders, and consumes and acks them all; the broker's CPU (every RabbitMQ process, from /proc)
// and this process's CPU are divided by the orders. Sizes alternate within a round, so that a slower stretch
// of a shared machine falls on all of them alike. Loopback only; each round is bounded in time.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { redactUrl } from '../../src/lib/redactUrl';
import { RabbitOrderQueue } from '../../src/queue/RabbitOrderQueue';
import { namedProcessTicks, processTicks, TICK_MS } from '../lib/cpu';

const BROKER = /^(beam\.smp|erl_child_setup|epmd|inet_gethost)$/;
const IN_FLIGHT = 256;
const ROUND_TIMEOUT_MS = 60_000;
const TICK_US = TICK_MS * 1000;

export interface BrokerCost {
  ordersPerMessage: number;
  orders: number;
  ms: number;
  brokerUsPerOrder: number;
  clientUsPerOrder: number;
}

async function round(url: string, ordersPerMessage: number, orders: number): Promise<BrokerCost> {
  const queue = `flash-sale.bench-broker-${process.pid}-${ordersPerMessage}-${Date.now()}`;
  const log = pino({ level: 'warn' });
  const q = new RabbitOrderQueue({ url, queue, ordersPerMessage }, log);
  let consumed = 0;
  let allConsumed!: () => void;
  const done = new Promise<void>((resolve) => (allConsumed = resolve));
  await q.start(async (batch) => {
    for (const d of batch) d.ack();
    consumed += batch.length;
    if (consumed >= orders) allConsumed();
  });
  const timer = setTimeout(() => allConsumed(), ROUND_TIMEOUT_MS);
  try {
    const broker0 = namedProcessTicks(BROKER);
    const self0 = processTicks('self', false);
    const started = Date.now();
    let next = 0;
    const shopper = async () => {
      while (next < orders) {
        const i = next++;
        await q.publish({ requestId: `bench-${String(i).padStart(12, '0')}`, saleId: 1, userId: i + 1, at: Date.now() });
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, shopper));
    await done;
    if (consumed < orders) throw new Error(`only ${consumed} of ${orders} orders came back within ${ROUND_TIMEOUT_MS} ms`);
    const ms = Date.now() - started;
    return {
      ordersPerMessage,
      orders,
      ms,
      brokerUsPerOrder: ((namedProcessTicks(BROKER) - broker0) * TICK_US) / orders,
      clientUsPerOrder: ((processTicks('self', false) - self0) * TICK_US) / orders,
    };
  } finally {
    clearTimeout(timer);
    await q.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      orders: { type: 'string', default: '20000' },
      sizes: { type: 'string', default: '1,16,64,256' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const url = process.env.AMQP_URL;
  if (!url) {
    process.stderr.write('bench:broker needs AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672)\n');
    return 2;
  }
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    process.stderr.write('bench:broker only loads a broker on loopback\n');
    return 2;
  }
  const orders = Number(values.orders);
  const sizes = values.sizes!.split(',').map(Number);
  const rounds = Number(values.rounds);
  if (!(orders > 0 && orders <= 1_000_000) || sizes.some((k) => !(k >= 1 && k <= 1000)) || !(rounds >= 1 && rounds <= 10)) {
    process.stderr.write('usage: npm run bench:broker -- [--orders 1..1000000] [--sizes 1,16,64,256] [--rounds 1..10]\n');
    return 2;
  }
  process.stdout.write(`broker cost per order: ${orders} orders a round, ${IN_FLIGHT} in flight, ${redactUrl(url)}\n`);
  const results = new Map<number, BrokerCost[]>(sizes.map((k) => [k, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const k of sizes) {
      const c = await round(url, k, orders);
      results.get(k)!.push(c);
      process.stdout.write(
        `  round ${r}  ${String(k).padStart(4)} a message  ${String(c.ms).padStart(6)} ms  broker ${c.brokerUsPerOrder.toFixed(1).padStart(5)} µs/order  this process ${c.clientUsPerOrder.toFixed(1).padStart(5)} µs/order\n`,
      );
    }
  }
  process.stdout.write('medians:\n');
  for (const [k, cs] of results) {
    const rate = median(cs.map((c) => (c.orders * 1000) / c.ms));
    process.stdout.write(
      `  ${String(k).padStart(4)} a message  ${Math.round(rate).toLocaleString('en-US').padStart(7)} orders/s  broker ${median(cs.map((c) => c.brokerUsPerOrder)).toFixed(1).padStart(5)} µs/order  this process ${median(cs.map((c) => c.clientUsPerOrder)).toFixed(1).padStart(5)} µs/order\n`,
    );
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`bench:broker failed: ${err.message}\n`);
      process.exit(2);
    },
  );
}
