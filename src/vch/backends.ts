// Which isolation a VCH's pods get: `--runtime runc|vm|auto` picks the default backend, both
// backends are always on offer (a pod may ask for the other with the label
// `vic-kubelet.io/runtime`: runtime-label.ts), behind one RouterRuntime. `auto` means vm where KVM really runs a
// guest (a probe VM, src/runtime/vm/kvm-probe.ts) and runc otherwise, and says why. Each VM's
// boot time goes to the log (the backend's line) and to the VCH's boot metric (BootStats, in /info).
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { RouterRuntime, type BackendName } from '../runtime/router.js';
import { createRuncRuntime } from '../runtime/runc/index.js';
import type { LogRotation } from '../runtime/log-rotation.js';
import type { Runtime, SandboxNetwork } from '../runtime/runtime.js';
import { autoBackend, createVmRuntime } from '../runtime/vm/index.js';
import { invalidInput } from './errors.js';

export type RuntimeChoice = BackendName | 'auto';

export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['runc', 'vm', 'auto'];

/** `--runtime`'s value, checked: one clear line for anything else. */
export function parseRuntimeChoice(value: string, flag = '--runtime'): RuntimeChoice {
  if ((RUNTIME_CHOICES as readonly string[]).includes(value)) return value as RuntimeChoice;
  throw invalidInput(`${flag} ${JSON.stringify(value)}: want runc, vm or auto`);
}

/** Pod VM boot times, as the metric reports them. */
export class BootStats {
  count = 0;
  totalMs = 0;
  maxMs = 0;
  lastMs: number | undefined;
  lastAccel: string | undefined;
  readonly #observers: ((ms: number, accel: string) => void)[] = [];

  /** Hears of each boot as it is recorded (the VCH's boot-time histogram). */
  onRecord(observer: (ms: number, accel: string) => void): void {
    this.#observers.push(observer);
  }

  record(ms: number, accel: string): void {
    for (const o of this.#observers) o(ms, accel);
    this.count++;
    this.totalMs += ms;
    this.maxMs = Math.max(this.maxMs, ms);
    this.lastMs = ms;
    this.lastAccel = accel;
  }

  snapshot(): BootSnapshot {
    return {
      count: this.count,
      ...(this.count > 0 && { meanMs: Math.round(this.totalMs / this.count) }),
      maxMs: this.maxMs,
      ...(this.lastMs !== undefined && { lastMs: this.lastMs }),
      ...(this.lastAccel !== undefined && { accel: this.lastAccel }),
    };
  }
}

export interface BootSnapshot {
  count: number;
  meanMs?: number;
  maxMs: number;
  lastMs?: number;
  accel?: string;
}

export interface BackendOptions {
  choice: RuntimeChoice;
  logger: Logger;
  /** The runc binary (default: runc on PATH). */
  runc?: string;
  /** The containers' init (default: the project's build). */
  tether?: string;
  /** Rotation of containers' logs (runc: their tether; vm: the agent asks); absent: never. */
  logRotation?: LogRotation;
}

export interface Backends {
  /** The default backend, resolved (`auto` made concrete). */
  default: BackendName;
  /** For Vch.open's `runtime`. */
  runtime: (runtimeStateDir: string, network?: SandboxNetwork) => Runtime;
  boots: BootStats;
}

/** Resolves `auto` (logging why) and makes the runtime factory over both backends. */
export async function chooseBackends(o: BackendOptions): Promise<Backends> {
  let backend: BackendName;
  if (o.choice === 'auto') {
    const auto = await autoBackend({ logger: o.logger });
    backend = auto.backend;
    o.logger.info({ runtime: backend, reason: auto.reason }, `--runtime auto: ${backend}`);
  } else backend = o.choice;
  const boots = new BootStats();
  const log = o.logger;
  return {
    default: backend,
    boots,
    runtime: (dir, network) =>
      new RouterRuntime({
        default: backend,
        backends: {
          runc: createRuncRuntime({
            stateDir: join(dir, 'runc'),
            logger: log,
            ...(o.runc && { runcPath: o.runc }),
            ...(o.tether && { tetherPath: o.tether }),
            ...(network && { network }),
            ...(o.logRotation && { logRotation: o.logRotation }),
          }),
          vm: createVmRuntime({
            stateDir: dir,
            logger: log,
            accel: 'auto',
            // The backend logs each boot ('pod VM booted', bootMs); here it feeds the metric.
            onBoot: ({ ms, accel }) => boots.record(ms, accel),
            ...(network && { network }),
            ...(o.logRotation && { logRotation: o.logRotation }),
          }),
        },
      }),
  };
}
