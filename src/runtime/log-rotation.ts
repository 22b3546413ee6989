// Rotation of containers' logs, as the kubelet's --container-log-max-size (default 10Mi) and
// --container-log-max-files (default 5, the current file included). The tether rotates its own
// output.log (tether/iolog-out.c); readers see the files as one log (src/iolog/rotated.ts).
import { rename, unlink } from 'node:fs/promises';
import { invalidInput } from './errors.js';

export interface LogRotation {
  /** Bytes a log file may hold before the next goes to a fresh one. */
  maxSize: number;
  /** Files of one container's log at most, the current one included (≥ 2). */
  maxFiles: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxSize: 10 * 1024 * 1024, maxFiles: 5 };

/** The smallest max-size: one whole entry (16-byte header, 4095-byte message) must fit. */
export const MIN_LOG_MAX_SIZE = 4111;

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
};

/**
 * The two flags' values (absent: the kubelet's defaults), checked: a size is a whole number of
 * bytes with an optional suffix as Kubernetes quantities have (k, M, G, Ki, Mi, Gi).
 */
export function parseLogRotation(o: { maxSize?: string; maxFiles?: string }): LogRotation {
  let maxSize = DEFAULT_LOG_ROTATION.maxSize;
  if (o.maxSize !== undefined) {
    const m = /^(\d+)(k|K|M|G|Ki|Mi|Gi)?$/.exec(o.maxSize.trim());
    const bytes = m ? Number(m[1]) * UNITS[m[2] ?? ''] : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < MIN_LOG_MAX_SIZE)
      throw invalidInput(
        `--container-log-max-size ${JSON.stringify(o.maxSize)}: want a size of at least ${MIN_LOG_MAX_SIZE} bytes, e.g. 10Mi, 512Ki or 1000000`,
      );
    maxSize = bytes;
  }
  let maxFiles = DEFAULT_LOG_ROTATION.maxFiles;
  if (o.maxFiles !== undefined) {
    if (!/^\d+$/.test(o.maxFiles) || Number(o.maxFiles) < 2 || Number(o.maxFiles) > 1000)
      throw invalidInput(
        `--container-log-max-files ${JSON.stringify(o.maxFiles)}: want a whole number from 2 to 1000`,
      );
    maxFiles = Number(o.maxFiles);
  }
  return { maxSize, maxFiles };
}

/**
 * Rotates the files of the log at `path` as the tether does (tether/iolog-out.c), for a writer
 * that cannot itself (a pod VM's log port): the oldest beyond maxFiles - 1 goes, path.K becomes
 * path.K+1, path becomes path.1. The caller then puts a fresh file at `path`.
 */
export async function shiftLogFiles(path: string, maxFiles: number): Promise<void> {
  const missing = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  };
  await unlink(`${path}.${maxFiles - 1}`).catch(missing);
  for (let k = maxFiles - 2; k >= 1; k--)
    await rename(`${path}.${k}`, `${path}.${k + 1}`).catch(missing);
  await rename(path, `${path}.1`).catch(missing);
}
