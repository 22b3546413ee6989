// Small file helpers of the runc backend: atomic JSON records, reading JSON that may not exist.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';

/** Writes JSON atomically (temporary file, fsync, rename): a reader sees old or new. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(value, null, 1) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Parsed JSON, or undefined when the file is missing or not (yet) valid JSON. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
