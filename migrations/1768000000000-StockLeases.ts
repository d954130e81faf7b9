// Several instances sharing one stock (docs/CLUSTER.md): the units not yet leased to any instance, the leases,
// and which lease each order was sold from, so that a dead instance's unsold units can be counted back.
// Plain ADD COLUMN and CREATE TABLE, portable across SQLite and MySQL (single-process shops never lease, but
// keep `unleased` in step, so that a shop can switch to several instances between sales).
import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

export class StockLeases1768000000000 implements MigrationInterface {
  name = 'StockLeases1768000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE flash_sales ADD COLUMN unleased INTEGER NOT NULL DEFAULT 0');
    await q.query('UPDATE flash_sales SET unleased = remaining');
    await q.query('ALTER TABLE orders ADD COLUMN lease_id INTEGER NULL');
    await q.createIndex('orders', new TableIndex({ name: 'ix_orders_lease', columnNames: ['lease_id'] }));
    await q.createTable(
      new Table({
        name: 'stock_leases',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'sale_id', type: 'int' },
          { name: 'instance_id', type: 'varchar', length: '96' },
          { name: 'granted', type: 'int' },
          { name: 'returned', type: 'int', isNullable: true },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'expires_at', type: 'bigint' },
        ],
        indices: [
          new TableIndex({ name: 'ix_stock_leases_state', columnNames: ['state', 'expires_at'] }),
          new TableIndex({ name: 'ix_stock_leases_sale', columnNames: ['sale_id'] }),
        ],
      }),
    );
    // The instances alive, by incarnation (a restarted instance is a new one), for the reclaim's checks.
    await q.createTable(
      new Table({
        name: 'cluster_members',
        columns: [
          { name: 'incarnation', type: 'varchar', length: '96', isPrimary: true },
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('cluster_members');
    await q.dropTable('stock_leases');
    await q.dropIndex('orders', 'ix_orders_lease');
    await q.query('ALTER TABLE orders DROP COLUMN lease_id');
    await q.query('ALTER TABLE flash_sales DROP COLUMN unleased');
  }
}
