// Schema written with TypeORM's portable Table API, so the same migration runs on MySQL/MariaDB and SQLite.
import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

const id = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' as const };
const createdAt = { name: 'created_at', type: 'datetime', precision: 3 };

export class Init1763769600000 implements MigrationInterface {
  name = 'Init1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'users',
        columns: [
          id,
          { name: 'user_name', type: 'varchar', length: '64', isUnique: true },
          { name: 'nick_name', type: 'varchar', length: '64' },
          { name: 'password_hash', type: 'varchar', length: '255' },
          { name: 'role', type: 'varchar', length: '16' },
          createdAt,
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'products',
        columns: [
          id,
          { name: 'name', type: 'varchar', length: '120' },
          { name: 'description', type: 'text' },
          { name: 'image', type: 'varchar', length: '500' },
          { name: 'price_cents', type: 'int' },
          createdAt,
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'flash_sales',
        columns: [
          id,
          { name: 'product_id', type: 'int' },
          { name: 'stock', type: 'int' },
          { name: 'remaining', type: 'int' },
          { name: 'price_cents', type: 'int' },
          { name: 'starts_at', type: 'datetime', precision: 3 },
          { name: 'ends_at', type: 'datetime', precision: 3 },
          createdAt,
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ['product_id'], referencedTableName: 'products', referencedColumnNames: ['id'] }),
        ],
        indices: [new TableIndex({ name: 'ix_flash_sales_product', columnNames: ['product_id'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'orders',
        columns: [
          id,
          { name: 'request_id', type: 'varchar', length: '36', isUnique: true },
          { name: 'sale_id', type: 'int' },
          { name: 'user_id', type: 'int' },
          { name: 'status', type: 'varchar', length: '16' },
          createdAt,
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ['sale_id'], referencedTableName: 'flash_sales', referencedColumnNames: ['id'] }),
          new TableForeignKey({ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'] }),
        ],
        indices: [
          new TableIndex({ name: 'uq_orders_sale_user', columnNames: ['sale_id', 'user_id'], isUnique: true }),
          new TableIndex({ name: 'ix_orders_user', columnNames: ['user_id'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'blacklist_entries',
        columns: [
          id,
          { name: 'user_id', type: 'int', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'reason', type: 'varchar', length: '255' },
          { name: 'until', type: 'datetime', precision: 3, isNullable: true },
          createdAt,
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['blacklist_entries', 'orders', 'flash_sales', 'products', 'users']) {
      await q.dropTable(table);
    }
  }
}
