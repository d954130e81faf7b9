// Constraint violations are recognised by the driver's error code, on each real database: a unique key
// (a user name taken in a race) and a foreign key (an order for a shopper who does not exist).
import { ConflictError } from '../../src/errors';
import { isForeignKeyViolation, isUniqueViolation } from '../../src/repositories/driverErrors';
import { buildTestApp, TestApp, testDatabases } from '../helpers/buildTestApp';
import { createSale } from '../helpers/shoppers';

describe.each(testDatabases())('driver error codes on %s', (database) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await buildTestApp({ database });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('when a user name is inserted twice, then the error is a unique violation and not a foreign-key one', async () => {
    const user = { userName: `twice${database}`, nickName: 'Twice', passwordHash: 'x', role: 'shopper' as const };
    await t.c.repos.users.create(user);

    const err = await t.c.repos.users.create(user).catch((e: unknown) => e);

    expect(isUniqueViolation(err)).toBe(true);
    expect(isForeignKeyViolation(err)).toBe(false);
  });

  it('when two registrations race for one user name, then one wins and the other hears USER_NAME_TAKEN', async () => {
    const register = () => t.c.services.accounts.register('racer', 'Racer', 'correct horse battery').catch((e: unknown) => e);

    const results = await Promise.all([register(), register()]);

    expect(results.filter((r) => r instanceof ConflictError && r.code === 'USER_NAME_TAKEN')).toHaveLength(1);
    expect(results.filter((r) => !(r instanceof Error))).toHaveLength(1);
  });

  it('when an order names a shopper who does not exist, then the error is a foreign-key violation', async () => {
    const saleId = await createSale(t.c, { stock: 5 });

    const err = await t.c.repos.orders
      .writeBatch([{ requestId: '00000000-0000-4000-8000-000000000001', saleId, userId: 987_654, at: Date.now() }])
      .catch((e: unknown) => e);

    expect(isForeignKeyViolation(err)).toBe(true);
    expect(isUniqueViolation(err)).toBe(false);
  });
});
