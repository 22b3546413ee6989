// What every backend refuses in a ContainerSpec before it touches anything: one set of rules, so
// a spec that runc would refuse is refused the same way (and with the same words) by the vm.
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { effectiveCaps } from './capabilities.js';
import { invalidInput } from './errors.js';
import type { ContainerSpec } from './runtime.js';
import { containerSeccomp } from './seccomp/container.js';
import { parseSignal } from './signals.js';
import { checkVolumeMount } from './core/volume-mounts.js';

/** Smallest memory limit a container may have (runc's own floor is lower; a shell needs this). */
const MIN_MEMORY_BYTES = 4 << 20;

/** Throws InvalidInput, naming the field, for a spec no backend could ever run. */
export async function checkContainerSpec(spec: ContainerSpec): Promise<void> {
  if (spec.process.args.length === 0 || spec.process.args[0] === '')
    throw invalidInput('no command to run');
  if (!spec.process.cwd.startsWith('/'))
    throw invalidInput(`working dir ${JSON.stringify(spec.process.cwd)} is not absolute`);
  if (!isAbsolute(spec.logPath)) throw invalidInput(`log path ${spec.logPath} is not absolute`);
  if (spec.stopSignal !== undefined) parseSignal(spec.stopSignal);
  const tlog = spec.terminationMessagePath;
  if (tlog !== undefined && (!tlog.startsWith('/') || tlog.includes('\0') || tlog.length > 255))
    throw invalidInput(`terminationMessagePath ${JSON.stringify(tlog)} is not an absolute path`);
  if (
    spec.memoryLimitBytes !== undefined &&
    !(Number.isSafeInteger(spec.memoryLimitBytes) && spec.memoryLimitBytes >= MIN_MEMORY_BYTES)
  )
    throw invalidInput(
      `memory limit ${spec.memoryLimitBytes} is not a whole number of bytes ≥ 4 MiB`,
    );
  if (spec.cpuMillis !== undefined && !(spec.cpuMillis > 0 && Number.isFinite(spec.cpuMillis)))
    throw invalidInput(`cpu limit ${spec.cpuMillis} is not a positive number of millicores`);
  if (spec.security) effectiveCaps(spec.security.capAdd, spec.security.capDrop);
  // A Localhost profile is checked now, not at start; the default one must be there too.
  await containerSeccomp(spec.security);
  for (const m of spec.mounts ?? []) checkVolumeMount(m);
  const lowers = typeof spec.imageRootfs === 'string' ? [spec.imageRootfs] : spec.imageRootfs;
  if (lowers.length === 0) throw invalidInput('the image has no rootfs directory');
  for (const lower of lowers) {
    const lowerOk = await stat(lower).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!lowerOk) throw invalidInput(`image rootfs ${lower} is not a directory`);
  }
}
