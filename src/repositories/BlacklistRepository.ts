import { DataSource, Repository } from 'typeorm';
import { BlacklistEntry } from '../models';

export interface BlacklistRecord {
  id: number;
  userId: number | null;
  ip: string | null;
  reason: string;
  until: Date | null;
  createdAt: Date;
}

export type BlacklistInput = Pick<BlacklistRecord, 'userId' | 'ip' | 'reason' | 'until'>;

export class BlacklistRepository {
  private readonly repo: Repository<BlacklistEntry>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(BlacklistEntry);
  }

  async list(): Promise<BlacklistRecord[]> {
    return (await this.repo.find({ order: { id: 'DESC' } })).map(toRecord);
  }

  async add(input: BlacklistInput): Promise<number> {
    const result = await this.repo.insert({ ...input, createdAt: new Date() });
    return result.identifiers[0].id as number;
  }

  async remove(id: number): Promise<boolean> {
    const result = await this.repo.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}

function toRecord(e: BlacklistEntry): BlacklistRecord {
  return {
    id: e.id,
    userId: e.userId,
    ip: e.ip,
    reason: e.reason,
    until: e.until ? new Date(e.until) : null,
    createdAt: new Date(e.createdAt),
  };
}
