// A captcha render thread that dies on its first request, as one killed by the system would.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () => process.exit(3));
