// docker cp in a running runc container: tether/container-cp (a small static helper beside the
// tether) enters the container's mount namespace and runs the host's static busybox tar there,
// so every path — and every symlink a hostile container planted — resolves inside the
// container's root, never the host's (tether/container-cp.c says why). The namespace file is
// opened here and the container's init checked to be the same process after opening it, so a
// pid reused since cannot point the copy elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import { isAlive, type ProcessIdentity } from '../core/proc.js';
import type { PathStat } from '../runtime.js';

/** Where the helper is: beside the tether (tether/build.sh builds both). */
export const containerCpPath = (tether: string): string => join(dirname(tether), 'container-cp');
/** The host's static busybox (Debian's busybox-static), whose tar the helper runs. */
export const HOST_BUSYBOX = '/bin/busybox';

/** What the helper says at most (a stat's two lines; a failure's reason). */
const SMALL_CAP = 8192;

export interface ArchiveTarget {
  helper: string;
  busybox: string;
  /** The container's init (its tether); undefined when it does not run. */
  init: ProcessIdentity | undefined;
  /** For messages: the container's id. */
  id: string;
}

/** A path as the helper takes it: absolute, normalized by the caller, no NUL. */
function checkPath(path: string): void {
  if (!path.startsWith('/') || path.includes('\0'))
    throw invalidInput(`path ${JSON.stringify(path)}: want an absolute path`);
}

/** Starts the helper in the container's mount namespace: fd 3 the namespace, fd 4 busybox. */
function start(t: ArchiveTarget, args: string[], stdin: 'pipe' | 'ignore'): ChildProcess {
  const notRunning = () => conflict(`container ${t.id} is not running`);
  if (!t.init) throw notRunning();
  let nsFd = -1;
  let bbFd = -1;
  try {
    try {
      nsFd = openSync(`/proc/${t.init.pid}/ns/mnt`, constants.O_RDONLY);
    } catch {
      throw notRunning();
    }
    // Checked after the open: the namespace is the container's, not a reused pid's.
    if (!isAlive(t.init)) throw notRunning();
    try {
      bbFd = openSync(t.busybox, constants.O_RDONLY);
    } catch {
      throw unavailable(`no ${t.busybox}: install Debian's busybox-static for docker cp`);
    }
    return spawn(t.helper, args, { stdio: [stdin, 'pipe', 'pipe', nsFd, bbFd] });
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
    if (bbFd >= 0) closeSync(bbFd);
  }
}

/** Collects up to SMALL_CAP bytes of a stream as text. */
function collect(s: Readable | null): () => string {
  let text = '';
  s?.setEncoding('utf8').on('data', (d: string) => {
    if (text.length < SMALL_CAP) text = (text + d).slice(0, SMALL_CAP);
  });
  return () => text;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(unavailable(`container-cp: ${e.message}`)));
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** The helper's exit status as an error: 2 no such path, 3 not a directory. */
function failure(code: number, why: string, t: ArchiveTarget, path: string): Error {
  if (code === 2) return notFound(`Could not find the file ${path} in container ${t.id}`);
  if (code === 3) return invalidInput(`extraction point is not a directory: ${path}`);
  return invalidInput(why.trim().split('\n').slice(-3).join('; ') || `container-cp exited ${code}`);
}

/** lstat of `path` in the container, and where a symlink leads (resolved in its root). */
export async function statInContainer(t: ArchiveTarget, path: string): Promise<PathStat> {
  checkPath(path);
  const child = start(t, ['stat', path], 'ignore');
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const code = await exited(child);
  if (code !== 0) throw failure(code, err(), t, path);
  const [first = '', link] = out().split('\n');
  const [octal = '', ...rest] = first.split(' ');
  // The mode comes in octal (as st_mode is read); the rest in decimal.
  const mode = /^[0-7]+$/.test(octal) ? parseInt(octal, 8) : NaN;
  const [size, sec, nsec] = rest.map(Number);
  if (![mode, size, sec, nsec].every(Number.isFinite))
    throw unavailable(`container-cp said ${JSON.stringify(first)}`);
  return {
    mode: mode!,
    size: size!,
    mtimeNs: BigInt(sec!) * 1_000_000_000n + BigInt(nsec!),
    ...(link !== undefined && link !== '' && { linkTarget: link }),
  };
}

/**
 * A tar of `path` (its last element not followed), named after that element. Whoever reads it
 * ends it; a failure of tar part way destroys the stream with the reason.
 */
export function archiveFromContainer(t: ArchiveTarget, path: string): Readable {
  checkPath(path);
  const child = start(t, ['get', path], 'ignore');
  const err = collect(child.stderr);
  const out = child.stdout!;
  void exited(child).then(
    (code) => {
      if (code !== 0) out.destroy(failure(code, err(), t, path));
    },
    (e: Error) => out.destroy(e),
  );
  // The reader went away: tar goes too.
  out.once('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}

/** Extracts the tar `input` into the directory `dir` of the container; resolves once done. */
export async function extractIntoContainer(
  t: ArchiveTarget,
  dir: string,
  input: Readable,
  keepOwner: boolean,
): Promise<void> {
  checkPath(dir);
  const child = start(t, ['put', dir, ...(keepOwner ? ['keep-owner'] : [])], 'pipe');
  const err = collect(child.stderr);
  const stdin = child.stdin!;
  // tar may stop reading (a bad archive, a full disk): its exit says why, not EPIPE.
  stdin.on('error', () => undefined);
  input.on('error', () => child.kill('SIGKILL'));
  input.pipe(stdin);
  const code = await exited(child);
  input.unpipe(stdin);
  if (code !== 0) throw failure(code, err(), t, dir);
}
