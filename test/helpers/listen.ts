import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from '../../src/app';

/** Serves the app on a free loopback port; returns its base URL and a closer. */
export async function listen(app: RequestHandler): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
