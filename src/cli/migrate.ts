// `npm run db:migrate`: applies pending migrations to the configured database and says what ran.
// The app also migrates on start; this exists so an operator (or the Docker image) can do it as its own step.
import 'reflect-metadata';
import { createDataSource } from '../../ormconfig';
import { ConfigError, loadConfig } from '../config/loadConfig';
import { redactUrl } from '../lib/redactUrl';

/** Exit code 0 when the database is up to date afterwards, 1 otherwise. */
export async function migrate(env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const target = config.database.kind === 'sqlite' ? `sqlite:${config.database.path}` : redactUrl(config.database.url, 'the configured database');
  const dataSource = createDataSource(config.database);
  try {
    await dataSource.initialize();
    const ran = await dataSource.runMigrations({ transaction: 'each' });
    if (ran.length === 0) out.write(`migrate: ${target} is up to date; nothing to run\n`);
    else {
      out.write(`migrate: applied ${ran.length} migration(s) to ${target}:\n`);
      for (const m of ran) out.write(`  - ${m.name}\n`);
    }
    return 0;
  } catch (e) {
    err.write(`migrate: failed on ${target}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}


if (require.main === module) {
  migrate(process.env, process.stdout, process.stderr).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`migrate: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
