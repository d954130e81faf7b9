import { DataSource, IsNull, MoreThanOrEqual, Repository } from 'typeorm';
import { Role, User } from '../models';

export interface UserRecord {
  id: number;
  userName: string;
  nickName: string;
  passwordHash: string;
  role: Role;
  sessionGeneration: number;
}

export interface NewUser {
  userName: string;
  nickName: string;
  passwordHash: string;
  role: Role;
}

export class UserRepository {
  private readonly repo: Repository<User>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(User);
  }

  /** A live account (deleted ones are not found). */
  async findById(id: number): Promise<UserRecord | null> {
    return toRecord(await this.repo.findOneBy({ id, deletedAt: IsNull() }));
  }

  async findByUserName(userName: string): Promise<UserRecord | null> {
    return toRecord(await this.repo.findOneBy({ userName, deletedAt: IsNull() }));
  }

  /** Returns the new id; a duplicate user name surfaces as the driver's unique violation. */
  async create(user: NewUser): Promise<number> {
    const result = await this.repo
      .createQueryBuilder()
      .insert()
      .values({ ...user, createdAt: new Date() })
      .updateEntity(false)
      .execute();
    const id = result.identifiers[0]?.id ?? result.raw?.insertId ?? result.raw;
    if (typeof id === 'number') return id;
    const created = await this.findByUserName(user.userName);
    if (!created) throw new Error('user insert returned no id');
    return created.id;
  }

  /** Many accounts in few statements; for seeding load tests. Returns ids in input order. */
  async createMany(users: NewUser[]): Promise<number[]> {
    const now = new Date();
    for (let i = 0; i < users.length; i += 500) {
      await this.repo
        .createQueryBuilder()
        .insert()
        .values(users.slice(i, i + 500).map((u) => ({ ...u, createdAt: now })))
        .updateEntity(false)
        .execute();
    }
    const ids = new Map<string, number>();
    for (let i = 0; i < users.length; i += 1000) {
      const names = users.slice(i, i + 1000).map((u) => u.userName);
      const rows = await this.repo
        .createQueryBuilder('u')
        .select(['u.id', 'u.userName'])
        .where('u.userName IN (:...names)', { names })
        .getMany();
      for (const row of rows) ids.set(row.userName, row.id);
    }
    return users.map((u) => ids.get(u.userName) ?? -1);
  }

  async setRole(id: number, role: Role): Promise<void> {
    await this.repo.update({ id }, { role });
  }

  async setPasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.repo.update({ id }, { passwordHash });
  }

  /** Raises the user's session generation by one in the database itself (safe with several instances); the new one, or null for no such user. */
  async raiseSessionGeneration(id: number, at: Date): Promise<number | null> {
    await this.repo
      .createQueryBuilder()
      .update()
      .set({ sessionGeneration: () => 'session_generation + 1', sessionsRevokedAt: at })
      .where('id = :id', { id })
      .updateEntity(false)
      .execute();
    const row = await this.repo.findOne({ select: { id: true, sessionGeneration: true }, where: { id } });
    return row ? row.sessionGeneration : null;
  }

  /** Users whose sessions were revoked at or after `since`, with their generation now. */
  async revokedSince(since: Date): Promise<{ id: number; sessionGeneration: number }[]> {
    return this.repo.find({ select: { id: true, sessionGeneration: true }, where: { sessionsRevokedAt: MoreThanOrEqual(since) } });
  }

  /**
   * Deletes an account: the row stays for the orders that point at it, its name is freed (`~<id>` is not
   * a name anyone can register) and its password can never match.
   */
  async markDeleted(id: number, at: Date): Promise<void> {
    await this.repo.update({ id }, { deletedAt: at, userName: `~${id}`, nickName: '', passwordHash: '!' });
  }
}

function toRecord(user: User | null): UserRecord | null {
  if (!user) return null;
  return {
    id: user.id,
    userName: user.userName,
    nickName: user.nickName,
    passwordHash: user.passwordHash,
    role: user.role,
    sessionGeneration: user.sessionGeneration,
  };
}
