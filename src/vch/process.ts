// A container's process as the VCH records it: the runtime's merge of the image config and the
// request (Docker's rules, src/runtime/process-spec.ts) plus the stop signal and timeout.
import { imageProcessConfig, mergeProcessSpec } from '../runtime/process-spec.js';
import type { ProcessSpec } from '../runtime/runtime.js';
import type { ProcessRecord } from './db.js';
import type { ContainerConfig } from './types.js';

/** Docker's default grace period of `docker stop`. */
export const DEFAULT_STOP_TIMEOUT = 10;

export function mergeProcess(
  imageConfig: Record<string, unknown>,
  req: ContainerConfig,
): ProcessRecord {
  const image = imageProcessConfig(imageConfig);
  const spec = mergeProcessSpec(image, {
    ...(req.entrypoint !== undefined && { entrypoint: req.entrypoint }),
    ...(req.cmd !== undefined && { cmd: req.cmd }),
    ...(req.env !== undefined && { env: req.env }),
    ...(req.workingDir !== undefined && { workingDir: req.workingDir }),
    ...(req.user !== undefined && { user: req.user }),
  });
  return {
    path: spec.args[0],
    args: spec.args.slice(1),
    env: spec.env,
    workingDir: spec.cwd,
    user: spec.user,
    stopSignal: req.stopSignal ?? image.StopSignal ?? 'SIGTERM',
    stopTimeout: req.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
  };
}

/** The runtime's process spec of a recorded process. */
export function processSpec(p: ProcessRecord): ProcessSpec {
  return { args: [p.path, ...p.args], env: p.env, cwd: p.workingDir, user: p.user };
}
