// The vm backend of the runtime: a qemu VM per pod (see vm-runtime.ts).
import type { Runtime } from '../runtime.js';
import { probeKvm, type KvmProbeOptions } from './kvm-probe.js';
import { VmRuntime, type VmRuntimeOptions } from './vm-runtime.js';

export { VmRuntime, VM_EXITED, type VmRuntimeOptions } from './vm-runtime.js';
export {
  buildGuest,
  defaultGuestCacheDir,
  type Guest,
  type GuestBuildOptions,
} from './guest-build.js';
export { kvmUsable, type Accel } from './qemu.js';

export { probeKvm, kvmPrerequisites, type KvmVerdict, type KvmProbeOptions } from './kvm-probe.js';

/**
 * `--runtime auto`: pod VMs where KVM can run them, runc sandboxes otherwise — with the reason,
 * for the log. Probed once per process (a probe VM under KVM, with a timeout).
 */
export async function autoBackend(
  options?: KvmProbeOptions,
): Promise<{ backend: 'vm' | 'runc'; reason: string }> {
  const kvm = await probeKvm(options);
  return { backend: kvm.usable ? 'vm' : 'runc', reason: kvm.reason };
}

export function createVmRuntime(
  options: VmRuntimeOptions,
): Runtime & { readonly accelerator: 'kvm' | 'tcg' } {
  return new VmRuntime(options);
}
