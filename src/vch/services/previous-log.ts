// The previous instance's log of a Kubernetes container (kubectl logs --previous). A container
// made through the portlayer (a pod's task: label vic.portlayer.task) starts each instance on a
// log of its own, as the kubelet keeps one per instance: at a restart, the log and its rotated
// files (output.log, output.log.1, …) move to the container's previous-log directory, replacing
// the instance before, so the new instance's rotation never eats them. A Docker container keeps
// one log across restarts (`docker logs` shows every run).
//
// The log's directory is written from inside the container (the tether rotates there through a
// directory fd), so nothing here follows a link in it: the files are renamed (a link moves as a
// link, and readers open with O_NOFOLLOW), the previous-log directory is one the container
// cannot reach (<state>/containers/<id>.previous, beside it), and the new log is created
// O_NOFOLLOW.
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { rotationNames } from '../../iolog/rotated.js';

/** The label that makes a container a pod's task (portlayer/directory.ts's LABEL_TASK). */
const TASK_LABEL = 'vic.portlayer.task';

/** A log has at most this many files (--container-log-max-files allows far fewer): a planted
 * flood of names is not moved. */
const MAX_FILES = 1000;

/** Whether a container keeps each instance's log apart (a pod's container does). */
export const logPerInstance = (labels: Record<string, string> | undefined): boolean =>
  labels?.[TASK_LABEL] !== undefined;

/** The previous-log directory of the container whose directory is `containerDir`. */
export const previousLogDir = (containerDir: string): string => `${containerDir}.previous`;

/** Where the previous instance's log is, for a container whose log is `logPath`. */
export const previousLogPath = (logPath: string): string =>
  join(previousLogDir(dirname(logPath)), basename(logPath));

/** Moves the log of the instance that ended to the previous-log directory. */
export async function keepPreviousLog(logPath: string): Promise<void> {
  const dir = dirname(logPath);
  const base = basename(logPath);
  const names = rotationNames(await readdir(dir), base).slice(0, MAX_FILES);
  if (names.length === 0) return;
  const prev = previousLogDir(dir);
  await rm(prev, { recursive: true, force: true });
  await mkdir(prev, { mode: 0o700 });
  for (const n of names) await rename(join(dir, n), join(prev, n));
  // The new instance's log is there from now on, empty until it writes (a start that fails
  // leaves a container whose logs are empty, not missing).
  const flags =
    constants.O_WRONLY |
    constants.O_APPEND |
    constants.O_CREAT |
    constants.O_NOFOLLOW |
    constants.O_NONBLOCK;
  await (await open(logPath, flags, 0o600)).close();
}
