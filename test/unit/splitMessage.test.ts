// One queue message may carry several orders: how its body is read and how its orders' outcomes settle it.
import { parseOrderBody, splitMessage, Verdict } from '../../src/queue/OrderQueue';

const order = (n: number) => ({ requestId: `req-${String(n).padStart(8, '0')}`, saleId: 1, userId: n, at: 1700000000000 });

function settleWith(body: string, outcomes: ('ack' | 'retry' | 'deadLetter')[]): Verdict[] {
  const verdicts: Verdict[] = [];
  const parts = splitMessage(body, (v) => verdicts.push(v));
  expect(parts).toHaveLength(outcomes.length);
  parts.forEach((p, i) => {
    expect(verdicts).toEqual([]); // nothing is settled before the last order is
    p[outcomes[i]]();
  });
  return verdicts;
}

describe('parseOrderBody', () => {
  it('reads an array of orders, one part each', () => {
    expect(parseOrderBody(JSON.stringify([order(1), order(2)]))).toEqual([order(1), order(2)]);
  });

  it('reads a single order object, as earlier versions published', () => {
    expect(parseOrderBody(JSON.stringify(order(3)))).toEqual([order(3)]);
  });

  it('gives null for each part that is not an order, and one null for a body that is none at all', () => {
    expect(parseOrderBody(JSON.stringify([order(1), { requestId: 'x', saleId: 1, userId: 1, at: 1 }]))).toEqual([order(1), null]);
    expect(parseOrderBody('not json')).toEqual([null]);
    expect(parseOrderBody('[]')).toEqual([null]);
    expect(parseOrderBody('42')).toEqual([null]);
    expect(parseOrderBody(JSON.stringify([order(1), 'x']))).toEqual([order(1), null]);
  });
});

describe('splitMessage', () => {
  const body = JSON.stringify([order(1), order(2), order(3)]);

  it('acks the message once every order is acked', () => {
    expect(settleWith(body, ['ack', 'ack', 'ack'])).toEqual(['ack']);
  });

  it('puts the message back when any order asks for a retry, even if another was given up on', () => {
    expect(settleWith(body, ['ack', 'retry', 'ack'])).toEqual(['retry']);
    expect(settleWith(body, ['deadLetter', 'retry', 'ack'])).toEqual(['retry']);
    expect(settleWith(body, ['retry', 'deadLetter', 'ack'])).toEqual(['retry']);
  });

  it('dead-letters the message when an order was given up on and none asked for a retry', () => {
    expect(settleWith(body, ['ack', 'deadLetter', 'ack'])).toEqual(['deadLetter']);
  });

  it('counts each order once, however often it is settled', () => {
    const verdicts: Verdict[] = [];
    const [a, b] = splitMessage(JSON.stringify([order(1), order(2)]), (v) => verdicts.push(v));
    a.ack();
    a.ack();
    a.retry();
    expect(verdicts).toEqual([]);
    b.ack();
    expect(verdicts).toEqual(['ack']);
  });

  it('hands every order the whole body for the logs', () => {
    const parts = splitMessage(body, () => undefined);
    expect(parts.map((p) => p.body)).toEqual([body, body, body]);
    expect(parts.map((p) => p.message?.userId)).toEqual([1, 2, 3]);
  });
});
