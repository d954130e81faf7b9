import { BlacklistEntry } from './BlacklistEntry';
import { FlashSale } from './FlashSale';
import { Order } from './Order';
import { Product } from './Product';
import { User } from './User';

export { BlacklistEntry, FlashSale, Order, Product, User };
export const entities = [User, Product, FlashSale, Order, BlacklistEntry];
export type { Role } from './User';
export type { OrderStatus } from './Order';
