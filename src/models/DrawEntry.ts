import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type DrawOutcome = 'won' | 'lost';

/** A shopper's entry in a sale's draw: written before the shopper is told ENTERED. */
@Entity({ name: 'draw_entries' })
@Index('uq_draw_entries_sale_user', ['saleId', 'userId'], { unique: true })
export class DrawEntry {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'sale_id', type: 'int' })
  saleId: number;

  @Column({ name: 'user_id', type: 'int' })
  userId: number;

  /** Null until the draw has run. */
  @Column({ type: 'varchar', length: 8, nullable: true })
  outcome: DrawOutcome | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
