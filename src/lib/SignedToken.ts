// Small HMAC helpers for stateless tokens: purchase tickets and secret purchase paths.
import { createHmac, createSecretKey, hkdfSync, KeyObject, timingSafeEqual } from 'node:crypto';

/**
 * A purpose-specific key derived from a master key, so one secret never serves two uses. A KeyObject, so
 * that each MAC on the purchase path does not import the raw key again.
 */
export function deriveKey(master: Buffer, purpose: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32)));
}

export function mac(key: KeyObject, data: Buffer | string, bytes: number): Buffer {
  return createHmac('sha256', key).update(data).digest().subarray(0, bytes);
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
