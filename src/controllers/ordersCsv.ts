// A sale's orders as CSV (RFC 4180), safe to open in a spreadsheet: a cell that a spreadsheet would read as a
// formula (=, +, -, @, tab, carriage return first) is prefixed with an apostrophe, since nick names are the
// shoppers' own text.
import type { OrderWithBuyer } from '../repositories/OrderRepository';

const HEADER = ['order_id', 'request_id', 'user_id', 'user_name', 'nick_name', 'status', 'ordered_at_utc'];

export function ordersCsv(orders: OrderWithBuyer[]): string {
  const lines = [HEADER.join(',')];
  for (const o of orders) {
    lines.push([o.id, o.requestId, o.userId, o.userName, o.nickName, o.status, o.createdAt.toISOString()].map(cell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function cell(v: string | number): string {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
