import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type OrderStatus = 'confirmed';

@Entity({ name: 'orders' })
@Index('uq_orders_sale_user', ['saleId', 'userId'], { unique: true })
export class Order {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  /** The id the shopper was given with 202; makes redelivered messages harmless. */
  @Column({ name: 'request_id', type: 'varchar', length: 36, unique: true })
  requestId: string;

  @Column({ name: 'sale_id', type: 'int' })
  saleId: number;

  @Column({ name: 'user_id', type: 'int' })
  userId: number;

  /** The stock lease the order was sold from, when several instances share the stock. */
  @Column({ name: 'lease_id', type: 'int', nullable: true })
  leaseId: number | null;

  @Column({ type: 'varchar', length: 16 })
  status: OrderStatus;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
