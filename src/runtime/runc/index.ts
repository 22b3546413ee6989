// The runc backend of the runtime (Debian's runc): see runc-runtime.ts.
import type { Logger } from 'pino';
import type { Runtime, SandboxNetwork } from '../runtime.js';
import type { LogRotation } from '../log-rotation.js';
import { defaultTetherPath } from '../paths.js';
import { RuncRuntime } from './runc-runtime.js';

export { RuncRuntime, type RuncRuntimeOptions } from './runc-runtime.js';

export function createRuncRuntime(options: {
  stateDir: string;
  tetherPath?: string;
  runcPath?: string;
  logger?: Logger;
  network?: SandboxNetwork;
  logRotation?: LogRotation;
}): Runtime {
  return new RuncRuntime({ ...options, tetherPath: options.tetherPath ?? defaultTetherPath() });
}
