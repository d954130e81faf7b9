// Input schemas for the admin forms. Forms send strings; JSON clients may send numbers, so both are accepted.
// Prices are typed in dollars and leave here in cents; times are typed as datetime-local in UTC.
import { isIP } from 'node:net';
import { z } from 'zod';
import { userName } from './validation';

/** Numbers from a JSON body become strings, so forms and JSON go through one set of rules. */
const text = (required = 'is required') =>
  z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string({ error: required }));

/** "19.99", "20", "0.5" -> cents, without going through floating point. */
export const dollars = text()
  .transform((s) => s.trim().replace(/^\$/, ''))
  .pipe(
    z
      .string()
      .min(1, 'is required')
      .regex(/^\d{1,7}(\.\d{1,2})?$/, 'must be an amount in dollars, like 19.99'),
  )
  .transform((s) => {
    const [whole, frac = ''] = s.split('.');
    return Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  })
  .pipe(z.number().min(1, 'must be at least 0.01').max(100_000_000, 'must be at most 1000000.00'));

const DATETIME_LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

/** Parses a datetime-local value ("2030-01-31T18:00", seconds and milliseconds optional) as UTC. */
export function parseUtcDateTime(raw: string): Date | null {
  const m = DATETIME_LOCAL.exec(raw.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s = '0', ms = '0'] = m.slice(1);
  const date = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, +ms.padEnd(3, '0')));
  // Date.UTC rolls 31 February over to March; a value that does not come back unchanged is not a date.
  if (date.getUTCFullYear() !== +y || date.getUTCMonth() !== +mo - 1 || date.getUTCDate() !== +d) return null;
  if (date.getUTCHours() !== +h || date.getUTCMinutes() !== +mi || date.getUTCSeconds() !== +s) return null;
  return date;
}

/** The value for a datetime-local input showing `date` in UTC, precise enough to round-trip unchanged. */
export function toUtcInput(date: Date): string {
  const iso = date.toISOString(); // 2030-01-31T18:00:00.000Z
  if (date.getUTCMilliseconds() !== 0) return iso.slice(0, 23);
  if (date.getUTCSeconds() !== 0) return iso.slice(0, 19);
  return iso.slice(0, 16);
}

/** "12.5" for 1250 cents: the value a price input shows. */
export function toDollarsInput(cents: number): string {
  return (cents / 100).toFixed(2);
}

const utcDateTime = text()
  .transform((s, ctx) => {
    const date = parseUtcDateTime(s);
    if (!date) {
      ctx.addIssue({ code: 'custom', message: 'must be a date and time like 2030-01-31T18:00 (UTC)' });
      return z.NEVER;
    }
    return date;
  })
  .pipe(z.date().min(new Date(Date.UTC(2000, 0, 1)), 'must be after 2000').max(new Date(Date.UTC(9999, 0, 1)), 'is too far away'));

const wholeNumber = (min: number, max: number) =>
  text()
    .transform((s) => s.trim())
    .pipe(z.string().regex(/^\d{1,9}$/, 'must be a whole number'))
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A path on this site (the content security policy allows no other images), or nothing. */
const imagePath = z
  .string({ error: 'must be text' })
  .trim()
  .max(500, 'must be at most 500 characters')
  .regex(/^(\/(?!\/)[\w\-./]*)?$/, 'must be a path on this site, like /img/phone.svg')
  .default('');

export const productSchema = z
  .object({
    name: z.string({ error: 'is required' }).trim().min(1, 'is required').max(120, 'must be at most 120 characters'),
    description: z.string({ error: 'must be text' }).trim().max(5000, 'must be at most 5000 characters').default(''),
    image: imagePath,
    price: dollars,
  })
  .transform(({ price, ...rest }) => ({ ...rest, priceCents: price }));

export type ProductForm = z.infer<typeof productSchema>;

export const saleSchema = z
  .object({
    productId: text('is required')
      .transform((s) => s.trim())
      .pipe(z.string().min(1, 'is required').regex(/^[1-9]\d{0,8}$/, 'is not a product'))
      .transform(Number),
    stock: wholeNumber(1, 1_000_000),
    price: dollars,
    startsAt: utcDateTime,
    endsAt: utcDateTime,
    allocation: z.enum(['first_come', 'draw'], { error: 'must be first come or draw' }).default('first_come'),
    // Read only for a draw: a first-come sale's form may leave it empty.
    drawWindowSeconds: z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string({ error: 'must be a number of seconds' }).trim().default('')),
  })
  .superRefine((s, ctx) => {
    if (s.endsAt.getTime() <= s.startsAt.getTime()) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'must be after the start' });
    }
    if (s.allocation !== 'draw') return;
    const w = /^\d{1,9}$/.test(s.drawWindowSeconds) ? Number(s.drawWindowSeconds) : NaN;
    if (!(w >= 1 && w <= 3600)) {
      ctx.addIssue({ code: 'custom', path: ['drawWindowSeconds'], message: 'must be a whole number of seconds from 1 to 3600' });
    } else if (s.startsAt.getTime() + w * 1000 >= s.endsAt.getTime()) {
      ctx.addIssue({ code: 'custom', path: ['drawWindowSeconds'], message: 'must end before the sale does, so that what is left can sell first come' });
    }
  })
  .transform(({ drawWindowSeconds, ...rest }) => ({
    ...rest,
    drawWindowSeconds: rest.allocation === 'draw' ? Number(drawWindowSeconds) : 0,
  }))
  .transform(({ price, ...rest }) => ({ ...rest, priceCents: price }));

export type SaleForm = z.infer<typeof saleSchema>;

/**
 * Who to block: `user` is a user name or `#<id>`; `ip` an IPv4 or IPv6 address; at least one of them.
 * `until` (UTC) is optional: empty means for good.
 */
export const blacklistSchema = z
  .object({
    user: z
      .string({ error: 'must be text' })
      .trim()
      .max(64, 'is too long')
      .default('')
      .pipe(
        z.union([
          z.literal(''),
          z.string().regex(/^#\d{1,9}$/).transform((s) => ({ id: Number(s.slice(1)) })),
          userName.transform((name) => ({ name })),
        ], { error: 'must be a user name or #id' }),
      ),
    ip: z
      .string({ error: 'must be text' })
      .trim()
      .toLowerCase()
      .max(64, 'is too long')
      .default('')
      .refine((v) => v === '' || isIP(v) !== 0, 'must be an IPv4 or IPv6 address')
      // An IPv4 client seen through an IPv6 socket is ::ffff:a.b.c.d; store the plain IPv4 form.
      .transform((v) => v.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')),
    reason: z.string({ error: 'is required' }).trim().min(1, 'is required').max(255, 'must be at most 255 characters'),
    until: z
      .string({ error: 'must be text' })
      .trim()
      .default('')
      .transform((s, ctx) => {
        if (s === '') return null;
        const date = parseUtcDateTime(s);
        if (!date) {
          ctx.addIssue({ code: 'custom', message: 'must be a date and time like 2030-01-31T18:00 (UTC), or empty' });
          return z.NEVER;
        }
        return date;
      }),
  })
  .superRefine((b, ctx) => {
    if (b.user === '' && b.ip === '') {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'or an IP address is required' });
    }
    if (b.until !== null && b.until.getTime() <= Date.now()) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be in the future (or empty for good)' });
    }
  })
  .transform(({ user, ip, ...rest }) => ({ ...rest, user: user === '' ? null : user, ip: ip === '' ? null : ip }));

export type BlacklistForm = z.infer<typeof blacklistSchema>;
