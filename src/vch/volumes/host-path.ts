// hostPath volumes (and docker `-v /host:/path`): the kubelet's type checks, made when the
// volume is created, with the kubelet's words when one fails.
import { lstat, mkdir, open, stat } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import { invalidInput } from '../errors.js';

export const HOST_PATH_TYPES = [
  '',
  'DirectoryOrCreate',
  'Directory',
  'FileOrCreate',
  'File',
  'Socket',
  'CharDevice',
  'BlockDevice',
] as const;
export type HostPathType = (typeof HOST_PATH_TYPES)[number];

/** Checks (and for the *OrCreate types creates) a host path; InvalidInput when it fails. */
export async function checkHostPath(path: string, type: string): Promise<void> {
  if (!isAbsolute(path) || normalize(path) !== path.replace(/(.)\/+$/, '$1'))
    throw invalidInput(`host path ${JSON.stringify(path)} is not a clean absolute path`);
  if (!(HOST_PATH_TYPES as readonly string[]).includes(type))
    throw invalidInput(
      `hostPath type ${JSON.stringify(type)} is not one of ${HOST_PATH_TYPES.slice(1).join(', ')}`,
    );
  const st = await stat(path).catch(() => undefined);
  const fail = (what: string) => invalidInput(`hostPath type check failed: ${path} is not ${what}`);
  switch (type as HostPathType) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (!st) return void (await mkdir(path, { recursive: true, mode: 0o755 }));
      if (!st.isDirectory()) throw fail('a directory');
      return;
    case 'Directory':
      if (!st?.isDirectory()) throw fail('a directory');
      return;
    case 'FileOrCreate':
      if (!st) {
        // O_EXCL: never through a link that appeared meanwhile.
        await (await open(path, 'wx', 0o644)).close();
        return;
      }
      if (!st.isFile()) throw fail('a file');
      return;
    case 'File':
      if (!st?.isFile()) throw fail('a file');
      return;
    case 'Socket':
      if (!st?.isSocket()) throw fail('a socket file');
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw fail('a character device');
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw fail('a block device');
      return;
  }
}

/** Whether a host path exists (a bind mount's source must). */
export async function hostPathExists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
