// The previous instance's log of a Kubernetes container (kubectl logs --previous). A container
// made through the portlayer (a pod's task: label vic.portlayer.task) starts each instance on a
// log of its own, as the kubelet keeps one per instance: at a restart, the log and its rotated
// files (output.log, output.log.1, …) move to `previous/` beside it, replacing the instance
// before, so the new instance's rotation never eats them. A Docker container keeps one log
// across restarts (`docker logs` shows every run). Both go with the container's directory.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { rotationNames } from '../../iolog/rotated.js';

/** The label that makes a container a pod's task (portlayer/directory.ts's LABEL_TASK). */
const TASK_LABEL = 'vic.portlayer.task';

/** Whether a container keeps each instance's log apart (a pod's container does). */
export const logPerInstance = (labels: Record<string, string> | undefined): boolean =>
  labels?.[TASK_LABEL] !== undefined;

/** Where the previous instance's log is, for a container whose log is `logPath`. */
export const previousLogPath = (logPath: string): string =>
  join(dirname(logPath), 'previous', basename(logPath));

/** Moves the log of the instance that ended to previous/ (the one before it goes). */
export async function keepPreviousLog(logPath: string): Promise<void> {
  const dir = dirname(logPath);
  const base = basename(logPath);
  const names = rotationNames(await readdir(dir), base);
  if (names.length === 0) return;
  const prev = dirname(previousLogPath(logPath));
  await rm(prev, { recursive: true, force: true });
  await mkdir(prev, { mode: 0o700 });
  for (const n of names) await rename(join(dir, n), join(prev, n));
  // The new instance's log is there from now on, empty until it writes (a start that fails
  // leaves a container whose logs are empty, not missing).
  await writeFile(logPath, '', { flag: 'a', mode: 0o600 });
}
