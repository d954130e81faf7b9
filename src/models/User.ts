import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type Role = 'shopper' | 'admin';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'user_name', type: 'varchar', length: 64, unique: true })
  userName: string;

  @Column({ name: 'nick_name', type: 'varchar', length: 64 })
  nickName: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash: string;

  @Column({ type: 'varchar', length: 16 })
  role: Role;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  /** Login cookies of an older generation are revoked (logout, password change, deletion, block). */
  @Column({ name: 'session_generation', type: 'int', default: 0 })
  sessionGeneration: number;

  @Column({ name: 'sessions_revoked_at', type: 'datetime', precision: 3, nullable: true })
  sessionsRevokedAt: Date | null;

  /** A deleted account keeps its row (orders point at it), emptied of its name and password. */
  @Column({ name: 'deleted_at', type: 'datetime', precision: 3, nullable: true })
  deletedAt: Date | null;
}
