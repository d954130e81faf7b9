import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'flash_sales' })
export class FlashSale {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'product_id', type: 'int' })
  productId: number;

  /** Units put on sale; fixed once the sale has started. */
  @Column({ type: 'int' })
  stock: number;

  /** Units not yet sold; only ever decremented by committed orders. */
  @Column({ type: 'int' })
  remaining: number;

  /** Units not leased to any instance (docs/CLUSTER.md); a single process keeps it equal to `remaining`. */
  @Column({ type: 'int', default: 0 })
  unleased: number;

  /** Sale price in cents. */
  @Column({ name: 'price_cents', type: 'int' })
  priceCents: number;

  @Column({ name: 'starts_at', type: 'datetime', precision: 3 })
  startsAt: Date;

  @Column({ name: 'ends_at', type: 'datetime', precision: 3 })
  endsAt: Date;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
