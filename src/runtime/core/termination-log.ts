// The host's file behind a container's terminationMessagePath (Kubernetes): made empty before
// each start and read after each exit. runc binds it from the container's own directory (out
// of the container's reach); the vm backend keeps it on the pod VM's share, beside the rootfs,
// where the guest can replace it with anything: so it is never followed when made (removed and
// made afresh, O_EXCL|O_NOFOLLOW) and read with safe-read.ts (no link, a regular file, a cap).
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { TERMINATION_MESSAGE_LIMIT } from '../runtime.js';
import { readCapped } from './safe-read.js';

/** Makes `path` a new empty file anyone may write (0666, as the kubelet makes it). */
export async function freshTerminationLog(path: string): Promise<void> {
  await rm(path, { force: true });
  const fh = await open(
    path,
    constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
    0o666,
  );
  try {
    await fh.chmod(0o666); // past the umask
  } finally {
    await fh.close();
  }
}

/** The message the run left: at most TERMINATION_MESSAGE_LIMIT bytes; undefined when none. */
export async function readTerminationLog(path: string): Promise<string | undefined> {
  const r = await readCapped(path, TERMINATION_MESSAGE_LIMIT);
  return r && r.data.length > 0 ? r.data.toString('utf8') : undefined;
}
