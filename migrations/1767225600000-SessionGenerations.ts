// Login cookies that can be revoked, and accounts that can be deleted: a per-user session generation (a
// cookie of an older one no longer logs in), when it last went up, and when the account was deleted (its
// row stays, emptied, for the orders that point at it). Plain ADD COLUMN, which both SQLite and MySQL do in
// place: TypeORM's portable addColumn rebuilds a SQLite table, which the orders' foreign key forbids.
import { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionGenerations1767225600000 implements MigrationInterface {
  name = 'SessionGenerations1767225600000';

  async up(q: QueryRunner): Promise<void> {
    const datetime = q.connection.driver.options.type === 'mysql' ? 'DATETIME(3)' : 'DATETIME';
    await q.query('ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0');
    await q.query(`ALTER TABLE users ADD COLUMN sessions_revoked_at ${datetime} NULL`);
    await q.query(`ALTER TABLE users ADD COLUMN deleted_at ${datetime} NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['deleted_at', 'sessions_revoked_at', 'session_generation']) {
      await q.query(`ALTER TABLE users DROP COLUMN ${column}`);
    }
  }
}
