import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Blocks a user or an IP address from buying, until a time or for good. */
@Entity({ name: 'blacklist_entries' })
export class BlacklistEntry {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'user_id', type: 'int', nullable: true })
  userId: number | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ type: 'varchar', length: 255 })
  reason: string;

  @Column({ type: 'datetime', precision: 3, nullable: true })
  until: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
