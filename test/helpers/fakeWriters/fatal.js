// A writer thread that cannot start (say, its database is unreachable): it says so and closes its port,
// as src/queue/orderWriterThread.ts does.
const { parentPort, workerData } = require('node:worker_threads');

require('./journal').noteStart();
parentPort.postMessage({ type: 'fatal', message: workerData.message ?? 'database unreachable' });
parentPort.close();
