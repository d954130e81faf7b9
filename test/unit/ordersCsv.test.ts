// The orders export: RFC 4180 quoting, and shoppers' text never read as a spreadsheet formula.
import { cell, ordersCsv } from '../../src/controllers/ordersCsv';
import { isLoopback } from '../../src/controllers/MetricsController';

describe('ordersCsv', () => {
  it('when orders are exported, then a header, one line per order in UTC, CRLF line ends', () => {
    const csv = ordersCsv([
      { id: 7, requestId: 'r-1', saleId: 1, userId: 3, userName: 'ann', nickName: 'Ann, "the buyer"', status: 'confirmed', createdAt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6)) },
    ]);

    expect(csv).toBe('order_id,request_id,user_id,user_name,nick_name,status,ordered_at_utc\r\n7,r-1,3,ann,"Ann, ""the buyer""",confirmed,2030-01-02T03:04:05.006Z\r\n');
  });

  it.each([['=HYPERLINK("x")'], ['+1'], ['-1+2'], ['@sum'], ['\tx']])('when a nick name starts like a formula (%j), then it is written as text', (nick) => {
    expect(cell(nick).replace(/^"/, '').startsWith("'")).toBe(true);
  });

  it('when a value is a number, then it is written as it is', () => {
    expect(cell(-5)).toBe('-5');
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['1270.0.0.1', false],
    ['', false],
  ])('when the client is %s, then loopback is %s', (ip, expected) => {
    expect(isLoopback(ip)).toBe(expected);
  });
});
