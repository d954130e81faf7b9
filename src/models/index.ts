import { BlacklistEntry } from './BlacklistEntry';
import { DrawEntry } from './DrawEntry';
import { FlashSale } from './FlashSale';
import { Order } from './Order';
import { Product } from './Product';
import { User } from './User';

export { BlacklistEntry, DrawEntry, FlashSale, Order, Product, User };
export const entities = [User, Product, FlashSale, Order, BlacklistEntry, DrawEntry];
export type { Role } from './User';
export type { OrderStatus } from './Order';
export type { DrawOutcome } from './DrawEntry';
