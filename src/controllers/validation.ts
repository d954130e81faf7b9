// Input schemas (zod) and the one way controllers turn a failed parse into a 400 with the fields at fault.
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { isCommonPassword } from '../lib/commonPasswords';
import { normalizeUserName } from '../lib/userName';
import { wantsJson } from '../middleware/errorHandler';

/** A solved proof-of-work challenge, as the page's script sends it (ProofOfWork checks it). */
const proof = z.string({ error: 'must be text' }).max(8192, 'is too long').optional();

// One account per name whatever its spelling (case, width, surrounding spaces), the same on SQLite and
// MariaDB: normalised first, by the function login and its limits use too.
export const userName = z
  .string({ error: 'is required' })
  .max(256, 'must be at most 32 characters')
  .transform(normalizeUserName)
  .pipe(
    z
      .string()
      .min(3, 'must be at least 3 characters')
      .max(32, 'must be at most 32 characters')
      .regex(/^[a-z0-9_.-]+$/, 'may use letters, digits, dot, dash and underscore'),
  );

/** A password the shop accepts for a new account or a change: long enough, not blank, not a common one. */
const newPassword = z
  .string({ error: 'is required' })
  .min(8, 'must be at least 8 characters')
  .max(128, 'must be at most 128 characters')
  .refine((p) => p.trim() !== '', 'must not be blank (only spaces)')
  .refine((p) => !isCommonPassword(p), 'is one of the most common passwords, the first ones attackers try; choose another');

export const registerSchema = z
  .object({
    userName,
    nickName: z.string({ error: 'is required' }).trim().min(1, 'is required').max(32, 'must be at most 32 characters'),
    password: newPassword,
    proof,
  })
  .superRefine((r, ctx) => {
    if (r.password.normalize('NFKC').trim().toLowerCase() === r.userName) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'must not be your user name' });
    }
  });

export const loginSchema = z.object({
  userName: z
    .string({ error: 'is required' })
    .max(256, 'is too long')
    .transform(normalizeUserName)
    .pipe(z.string().min(1, 'is required').max(64, 'is too long')),
  password: z.string({ error: 'is required' }).min(1, 'is required').max(128, 'is too long'),
  proof,
});

export const passwordChangeSchema = z.object({
  currentPassword: z.string({ error: 'is required' }).min(1, 'is required').max(128, 'is too long'),
  newPassword,
});

export const deleteAccountSchema = z.object({
  password: z.string({ error: 'is required' }).min(1, 'is required').max(128, 'is too long'),
});

/** Plain decimal digits only: Number() would also take 0x1, 1e0 and padded spaces as 1. */
export const idParam = z
  .string({ error: 'must be a number' })
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive whole number')
  .transform(Number)
  .pipe(z.number().max(2 ** 31 - 1, 'is too large'));

export const ticketSchema = z.object({
  captchaId: z.string({ error: 'is required' }).min(1, 'is required').max(64, 'is too long'),
  answer: z.string({ error: 'is required' }).trim().min(1, 'is required').max(16, 'is too long'),
});

export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.join('.') || 'input';
    fields[key] ??= issue.message;
  }
  return fields;
}

/** Parses or throws a ValidationError naming every field at fault. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(fieldErrors(result.error));
  return result.data;
}

export function parseId(raw: unknown, name = 'id'): number {
  const result = idParam.safeParse(raw);
  if (!result.success) throw new ValidationError({ [name]: result.error.issues[0].message });
  return result.data;
}

/**
 * For forms: parse, or answer 400 with the form again and each error next to its field (HTML), or the
 * error body (JSON). Returns null when it has answered.
 */
export function parseForm<T extends z.ZodType>(
  schema: T,
  req: Request,
  res: Response,
  view: string,
  locals: Record<string, unknown>,
): z.infer<T> | null {
  const result = schema.safeParse(req.body ?? {});
  if (result.success) return result.data;
  const fields = fieldErrors(result.error);
  if (wantsJson(req)) throw new ValidationError(fields);
  res.status(400).render(view, { ...locals, errors: fields, values: req.body ?? {} });
  return null;
}
