// What is mounted on the host, from /proc/self/mountinfo: read asynchronously, and once for all
// the checks asked in the same turn of the event loop (with hundreds of pods the table has
// thousands of lines, and every mount and unmount checks it). A check never gets a table read
// before it was asked: it waits for the next read rather than join one under way, so it sees
// every mount made before it.
import { readFile } from 'node:fs/promises';

let next: Promise<string[]> | undefined;

/** The mount points (field 5, octal escapes as the kernel writes them) of a fresh read. */
function mountPoints(): Promise<string[]> {
  next ??= new Promise<void>((r) => setImmediate(r)).then(() => {
    // From here on, new checks wait for the read after this one.
    next = undefined;
    return readFile('/proc/self/mountinfo', 'utf8').then((text) =>
      text.split('\n').map((l) => l.split(' ')[4] ?? ''),
    );
  });
  return next;
}

/** The kernel's escape of a path in mountinfo: space, tab, newline and backslash as octal. */
function escapeMountPath(path: string): string {
  return path.replace(/[\s\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

export async function isMounted(path: string): Promise<boolean> {
  const escaped = escapeMountPath(path);
  return (await mountPoints()).includes(escaped);
}

/** Whether anything is mounted below `dir` (a removal must not go through it). */
export async function mountedUnder(dir: string): Promise<boolean> {
  const prefix = escapeMountPath(dir.endsWith('/') ? dir : dir + '/');
  return (await mountPoints()).some((p) => p.startsWith(prefix));
}
