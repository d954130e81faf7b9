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

  /** 'first_come' (whoever is first) or 'draw' (entries in the first window shuffled by a committed seed). */
  @Column({ type: 'varchar', length: 16, default: 'first_come' })
  allocation: 'first_come' | 'draw';

  /** How long after the opening attempts become draw entries (draw sales only). */
  @Column({ name: 'draw_window_seconds', type: 'int', default: 0 })
  drawWindowSeconds: number;

  /** The draw's seed (hex): secret until the draw has run, then published. */
  @Column({ name: 'draw_seed', type: 'varchar', length: 64, nullable: true })
  drawSeed: string | null;

  /** SHA-256 of the seed (hex), public from the sale's creation. */
  @Column({ name: 'draw_commitment', type: 'varchar', length: 64, nullable: true })
  drawCommitment: string | null;

  /** 'open' until the draw has run, then 'drawn'; null for first-come sales. */
  @Column({ name: 'draw_state', type: 'varchar', length: 16, nullable: true })
  drawState: 'open' | 'drawn' | null;

  @Column({ name: 'drawn_at', type: 'datetime', precision: 3, nullable: true })
  drawnAt: Date | null;

  @Column({ name: 'draw_winners', type: 'int', nullable: true })
  drawWinners: number | null;
}
