// In development without COOKIE_KEYS, one key made on the first start and kept beside the SQLite file, so
// that restarting `npm start` does not log every shopper out. Never in production (COOKIE_KEYS is required
// there) nor in tests, and never with MySQL, whose data is not the developer's alone.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './loadConfig';

/** The config with the kept key, or unchanged when it has keys of its own or is not a development SQLite shop. */
export function keepDevelopmentKey(config: Config): Config {
  const db = config.database;
  if (!config.cookieKeysGenerated || config.env !== 'development' || db.kind !== 'sqlite' || db.path === ':memory:') return config;
  const file = `${db.path}.cookie-key`;
  const key = readKey(file) ?? writeKey(file);
  return Object.freeze({ ...config, cookieKeys: [key], cookieKeysGenerated: false, cookieKeyFile: file });
}

function readKey(file: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== 16) throw new Error(`${file}: not a base64 AES-128 key; delete it to have a new one made`);
  return key;
}

function writeKey(file: string): Buffer {
  const key = randomBytes(16);
  // On a fresh checkout the database's folder (data/) does not exist yet: the database would make it later.
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    // wx: a second process starting at the same moment reads the first one's key instead of replacing it.
    writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKey(file)!;
    throw err;
  }
}
