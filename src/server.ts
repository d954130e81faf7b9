// Entry point: reads the environment, starts the app on a port, and shuts down gracefully on SIGTERM.
import 'reflect-metadata';
import http from 'node:http';
import { keepDevelopmentKey } from './config/developmentKey';
import { ConfigError, loadConfig } from './config/loadConfig';
import { buildContainer } from './container';
import { createApp } from './app';

export async function startWebServer(env: NodeJS.ProcessEnv = process.env) {
  const config = keepDevelopmentKey(loadConfig(env));
  const c = buildContainer(config);
  if (config.cookieKeyFile) {
    c.log.warn({ file: config.cookieKeyFile }, 'COOKIE_KEYS not set: using the development key kept beside the database');
  } else if (config.cookieKeysGenerated) {
    c.log.warn('COOKIE_KEYS not set: using a random key; logins end when the process restarts');
  }
  await c.start();
  const handler = createApp(c);
  let closing = false;
  // Once stopping, every answer asks the client to hang up, so busy keep-alive connections end too.
  const server = http.createServer((req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  c.log.info({ url: `http://localhost:${port}/`, database: config.database.kind, queue: c.queue.kind }, 'flash sale is open');
  if (config.admin) c.log.info({ admin: config.admin.userName, login: `http://localhost:${port}/user/login` }, 'admin account ready');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      c.log.info('shutting down: no new purchases, finishing accepted orders');
      c.services.funnel.close('stopping');
      // Open dashboards' event streams would keep server.close() waiting: end them now.
      c.services.live.stop();
      closing = true;
      await new Promise<void>((resolve) => {
        // close() only waits; connections busy now go idle later and must be closed then.
        const sweep = setInterval(() => server.closeIdleConnections(), 200);
        server.close(() => {
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
      await c.stop();
      c.log.info('stopped');
    })());
  return { server, port, container: c, stop };
}

if (require.main === module) {
  startWebServer()
    .then(({ stop, container }) => {
      const shutdown = (signal: string) => {
        container.log.info({ signal }, 'signal received');
        stop().then(
          () => process.exit(0),
          (err) => {
            container.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('unhandledRejection', (err) => container.log.error({ err }, 'unhandled rejection'));
    })
    .catch((err) => {
      if (err instanceof ConfigError) console.error(err.message);
      else console.error('failed to start:', err);
      process.exit(1);
    });
}
