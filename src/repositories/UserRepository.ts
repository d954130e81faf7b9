import { DataSource, Repository } from 'typeorm';
import { Role, User } from '../models';

export interface UserRecord {
  id: number;
  userName: string;
  nickName: string;
  passwordHash: string;
  role: Role;
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

  async findById(id: number): Promise<UserRecord | null> {
    return toRecord(await this.repo.findOneBy({ id }));
  }

  async findByUserName(userName: string): Promise<UserRecord | null> {
    return toRecord(await this.repo.findOneBy({ userName }));
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
}

function toRecord(user: User | null): UserRecord | null {
  if (!user) return null;
  return { id: user.id, userName: user.userName, nickName: user.nickName, passwordHash: user.passwordHash, role: user.role };
}
