// The bench's baseline: a bare node:http hello world, run as its own process, same keep-alive as the app.
// Prints its port on stdout once it listens.
import http from 'node:http';

const body = Buffer.from('Hello, world!');

export function startHello(port = 0, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (require.main === module) {
  startHello(Number(process.argv[2] ?? 0)).then((server) => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address ? address.port : ''}\n`);
    process.on('SIGTERM', () => process.exit(0));
  });
}
