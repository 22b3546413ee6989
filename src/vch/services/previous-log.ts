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
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
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

/**
 * How the previous instance of a pod's container ended (Kubernetes' lastState.terminated), kept
 * beside its log in the previous-log directory, so the VCH answers it after a restart of its
 * own (or of the node), as a kubelet reads it from the runtime's records.
 */
export interface PreviousRun {
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Why it ended if not a plain exit (OOMKilled, Killed, Lost), or a start failure. */
  error?: string;
  terminationMessage?: string;
}

const PREVIOUS_RUN_FILE = 'exit.json';
/** A termination message is 4 KiB at most: the record is well under this. */
const MAX_PREVIOUS_RUN_BYTES = 16 * 1024;

const previousRunPath = (logPath: string) =>
  join(previousLogDir(dirname(logPath)), PREVIOUS_RUN_FILE);

/** Records how the instance that ended did (after keepPreviousLog, which renews the directory). */
export async function keepPreviousRun(logPath: string, run: PreviousRun): Promise<void> {
  const dir = previousLogDir(dirname(logPath));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${PREVIOUS_RUN_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(run), { mode: 0o600 });
  await rename(tmp, join(dir, PREVIOUS_RUN_FILE));
}

/** The previous instance's end, if one was recorded (a file of the VCH's own, read capped). */
export function readPreviousRun(logPath: string): PreviousRun | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(previousRunPath(logPath), constants.O_RDONLY | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(MAX_PREVIOUS_RUN_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const v = JSON.parse(buf.subarray(0, n).toString('utf8')) as unknown;
    if (!v || typeof v !== 'object') return undefined;
    const r = v as Record<string, unknown>;
    const str = (k: string) => (typeof r[k] === 'string' ? { [k]: r[k] as string } : {});
    return {
      ...str('startedAt'),
      ...str('finishedAt'),
      ...str('error'),
      ...str('terminationMessage'),
      ...(Number.isInteger(r.exitCode) && { exitCode: r.exitCode as number }),
    };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
