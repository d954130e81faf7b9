// The balancer's routing key for a shopper: the same on every device, and telling nothing about who it is.
import type { KeyObject } from 'node:crypto';
import { deriveKey, mac } from './SignedToken';

/** Bytes of the MAC kept: plenty to spread shoppers over a ring, too few to be worth more than routing. */
const BYTES = 9;

/** Derived keys by master key: deriving costs more than the MAC itself, and a page load may ask for one. */
const derived = new WeakMap<Buffer, KeyObject>();

/**
 * A short base64url MAC of the user id under its own key derived from `key` (the first cookie key), so that
 * the key that seals login cookies never serves this use directly. Stable for a shopper as long as the key is.
 */
export function shardKey(key: Buffer, userId: number): string {
  let k = derived.get(key);
  if (!k) derived.set(key, (k = deriveKey(key, 'flash-sale shard cookie')));
  return mac(k, String(userId), BYTES).toString('base64url');
}
