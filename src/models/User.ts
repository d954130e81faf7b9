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
}
