// The database drivers' error codes for the constraint violations the app handles on purpose. TypeORM wraps
// a driver's error in QueryFailedError and keeps the original as `driverError`; both shapes are read.

function driverCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.driverError?.code ?? e.code;
  return typeof code === 'string' ? code : undefined;
}

/** MySQL / MariaDB ER_DUP_ENTRY, or SQLite's UNIQUE or PRIMARY KEY constraint. */
export function isUniqueViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A row that refers to a missing parent: MySQL / MariaDB ER_NO_REFERENCED_ROW(_2), or SQLite's FOREIGN KEY. */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_NO_REFERENCED_ROW_2' || code === 'ER_NO_REFERENCED_ROW' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
