import type { DataSource } from 'typeorm';

export class HealthRepository {
  constructor(
    private readonly dataSource: DataSource,
    readonly kind: string,
  ) {}

  async ping(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }
}
