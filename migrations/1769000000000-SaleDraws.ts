// Sales that allocate their opening by a draw: the sale's allocation, its entry window, the committed seed
// (its hash public before the window, the seed itself shown only once drawn) and where the draw stands; and
// the draw's entries, one per shopper and sale. Plain ADD COLUMN on flash_sales, which SQLite and MySQL both
// do in place (TypeORM's portable addColumn rebuilds a SQLite table, which the orders' foreign key forbids).
import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

export class SaleDraws1769000000000 implements MigrationInterface {
  name = 'SaleDraws1769000000000';

  async up(q: QueryRunner): Promise<void> {
    const datetime = q.connection.driver.options.type === 'mysql' ? 'DATETIME(3)' : 'DATETIME';
    await q.query("ALTER TABLE flash_sales ADD COLUMN allocation VARCHAR(16) NOT NULL DEFAULT 'first_come'");
    await q.query('ALTER TABLE flash_sales ADD COLUMN draw_window_seconds INTEGER NOT NULL DEFAULT 0');
    await q.query('ALTER TABLE flash_sales ADD COLUMN draw_seed VARCHAR(64) NULL');
    await q.query('ALTER TABLE flash_sales ADD COLUMN draw_commitment VARCHAR(64) NULL');
    await q.query('ALTER TABLE flash_sales ADD COLUMN draw_state VARCHAR(16) NULL');
    await q.query(`ALTER TABLE flash_sales ADD COLUMN drawn_at ${datetime} NULL`);
    await q.query('ALTER TABLE flash_sales ADD COLUMN draw_winners INTEGER NULL');
    await q.createTable(
      new Table({
        name: 'draw_entries',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'sale_id', type: 'int' },
          { name: 'user_id', type: 'int' },
          // null until the draw; then 'won' (the shopper's order row exists) or 'lost'
          { name: 'outcome', type: 'varchar', length: '8', isNullable: true },
          { name: 'created_at', type: 'datetime', precision: 3 },
        ],
        indices: [new TableIndex({ name: 'uq_draw_entries_sale_user', columnNames: ['sale_id', 'user_id'], isUnique: true })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('draw_entries');
    for (const column of ['draw_winners', 'drawn_at', 'draw_state', 'draw_commitment', 'draw_seed', 'draw_window_seconds', 'allocation']) {
      await q.query(`ALTER TABLE flash_sales DROP COLUMN ${column}`);
    }
  }
}
