// The shop's one way of showing a moment: UTC, date and time, with the zone written out ("2030-01-31 18:00 UTC").
// Pages, admin tables, the sale page's script (public/js/sale.js, same format) and exports all use it.

export function utcTime(at: Date | number, precision: 'minutes' | 'seconds' | 'ms' = 'minutes'): string {
  const iso = new Date(at).toISOString(); // 2030-01-31T18:00:00.000Z
  const end = precision === 'minutes' ? 16 : precision === 'seconds' ? 19 : 23;
  return `${iso.slice(0, end).replace('T', ' ')} UTC`;
}
