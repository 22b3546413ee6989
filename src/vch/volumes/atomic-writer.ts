// Writes a volume's whole content at once, as the kubelet's AtomicWriter does for configMap,
// secret, downwardAPI and projected volumes, so a reader never sees a mix of two versions:
//
//   <root>/..<timestamp>.<random>/   the files of one version (a fresh directory each time)
//   <root>/..data -> ..<timestamp>…  the current version; swapped by renaming ..data_tmp over it
//   <root>/<name> -> ..data/<name>   each top-level name of the payload, through ..data
//
// A write checks every path first (relative, no `..` or empty element, not starting with `..`,
// a mode within 0777, the total within 16 MiB): bad input changes nothing. It writes the new
// version beside the old, swaps ..data (rename(2) is atomic), adds the top-level links the new
// version has and the old had not, removes those it no longer has, and removes every
// timestamped directory but the current one (the old version, and what a crash left).
//
// The volume may be mounted read-write in a container: nothing here follows a link it did not
// make (files are created O_EXCL|O_NOFOLLOW in a directory made just before; links are replaced
// by rename, removed with unlink).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { invalidInput } from '../errors.js';

export const MAX_PAYLOAD_BYTES = 16 << 20;
const DATA = '..data';
const DATA_TMP = '..data_tmp';

export interface PayloadFile {
  path: string;
  data: Buffer;
  mode: number;
  /** The file's owner, over the write's (the kubelet's FsUser of a token file). */
  uid?: number;
}

export interface Owner {
  uid?: number;
  gid?: number;
}

/** Throws InvalidInput for a payload that must not be written; the paths' elements. */
export function checkPayload(files: readonly PayloadFile[]): void {
  let total = 0;
  const seen = new Set<string>();
  for (const f of files) {
    const p = f.path;
    if (typeof p !== 'string' || p === '') throw invalidInput('a file path is empty');
    if (p.length > 4096) throw invalidInput(`file path ${p.slice(0, 40)}… is over 4096 bytes`);
    if (p.startsWith('/')) throw invalidInput(`file path ${JSON.stringify(p)} is absolute`);
    if (p.startsWith('..')) throw invalidInput(`file path ${JSON.stringify(p)} starts with ".."`);
    const parts = p.split('/');
    if (parts.includes('..'))
      throw invalidInput(`file path ${JSON.stringify(p)} has a ".." element`);
    if (parts.some((x) => x === '' || x === '.'))
      throw invalidInput(`file path ${JSON.stringify(p)} has an empty or "." element`);
    if (p.includes('\0')) throw invalidInput(`file path ${JSON.stringify(p)} has a NUL byte`);
    if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777)
      throw invalidInput(`file ${JSON.stringify(p)}: mode ${f.mode} is not within 0..0777`);
    if (f.uid !== undefined && (!Number.isInteger(f.uid) || f.uid < 0 || f.uid > 0xfffffffe))
      throw invalidInput(`file ${JSON.stringify(p)}: uid ${f.uid} is not a uid`);
    if (seen.has(p)) throw invalidInput(`file path ${JSON.stringify(p)} is given twice`);
    seen.add(p);
    total += f.data.length;
    if (total > MAX_PAYLOAD_BYTES) throw invalidInput('the files are over 16 MiB in all');
  }
  // A path that is both a file and a directory of another (a and a/b) cannot be written.
  for (const p of seen) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++)
      if (seen.has(parts.slice(0, i).join('/')))
        throw invalidInput(
          `file path ${JSON.stringify(p)} is under the file ${parts.slice(0, i).join('/')}`,
        );
  }
}

/** The kubelet's timestamped name: ..2006_01_02_15_04_05.<random>. */
function versionDirName(now = new Date()): string {
  const t = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-T:]/g, '_');
  return `..${t}.${randomBytes(6).toString('hex')}`;
}

async function isLink(p: string): Promise<boolean> {
  return lstat(p).then(
    (s) => s.isSymbolicLink(),
    () => false,
  );
}

async function ownIt(p: string, owner: Owner): Promise<void> {
  if (owner.uid === undefined && owner.gid === undefined) return;
  await chown(p, owner.uid ?? -1, owner.gid ?? -1);
}

/** Writes the payload as the volume's whole content (see the file's head). */
export async function writeAtomically(
  root: string,
  files: readonly PayloadFile[],
  owner: Owner = {},
): Promise<void> {
  checkPayload(files);
  const version = versionDirName();
  const dir = join(root, version);
  await mkdir(dir, { mode: 0o755 });
  try {
    await ownIt(dir, owner);
    for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
      const parts = f.path.split('/');
      let at = dir;
      for (const part of parts.slice(0, -1)) {
        at = join(at, part);
        const st = await lstat(at).catch(() => undefined);
        if (!st) {
          await mkdir(at, { mode: 0o755 });
          await ownIt(at, owner);
        } else if (!st.isDirectory() || st.isSymbolicLink())
          throw invalidInput(`cannot write ${f.path}: ${part} is not a directory`);
      }
      const flags =
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const fh = await open(join(at, parts[parts.length - 1]), flags, 0o600);
      try {
        await fh.writeFile(f.data);
        const uid = f.uid ?? owner.uid;
        if (uid !== undefined || owner.gid !== undefined)
          await fh.chown(uid ?? -1, owner.gid ?? -1);
        await fh.chmod(f.mode);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    // The swap: a link made aside, renamed over ..data (rename replaces a link, never follows).
    await rm(join(root, DATA_TMP), { force: true });
    await symlink(version, join(root, DATA_TMP));
    await rename(join(root, DATA_TMP), join(root, DATA));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  await linkTopLevel(root, files);
  await removeStale(root, version);
}

/** One link per top-level name of the payload; the links of names it no longer has go. */
async function linkTopLevel(root: string, files: readonly PayloadFile[]): Promise<void> {
  const names = new Set(files.map((f) => f.path.split('/')[0]));
  for (const name of names) {
    const p = join(root, name);
    const want = join(DATA, name);
    if ((await isLink(p)) && (await readlink(p)) === want) continue;
    const tmp = join(root, `..link_tmp.${randomBytes(6).toString('hex')}`);
    await symlink(want, tmp);
    // rename over whatever is there (a stale link, or a file a container put); a directory in
    // the way cannot be replaced this way and is an error.
    await rename(tmp, p).catch(async (e: NodeJS.ErrnoException) => {
      await unlink(tmp).catch(() => {});
      throw invalidInput(`cannot link ${name} in the volume: ${e.code ?? e.message}`);
    });
  }
  for (const entry of await readdir(root)) {
    if (entry.startsWith('..') || names.has(entry)) continue;
    const p = join(root, entry);
    if ((await isLink(p)) && (await readlink(p)).startsWith(`${DATA}/`)) await unlink(p);
  }
}

/** Removes every timestamped directory but `keep`, and a ..data_tmp a crash left. */
async function removeStale(root: string, keep: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (!entry.startsWith('..') || entry === DATA || entry === keep) continue;
    const p = join(root, entry);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isSymbolicLink()) await unlink(p);
    else if (st.isDirectory()) await rm(p, { recursive: true, force: true });
  }
}
