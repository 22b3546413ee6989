// The vm backend of the runtime: a qemu VM per pod (see vm-runtime.ts).
import type { Runtime } from '../runtime.js';
import { kvmUsable } from './qemu.js';
import { VmRuntime, type VmRuntimeOptions } from './vm-runtime.js';

export { VmRuntime, VM_EXITED, type VmRuntimeOptions } from './vm-runtime.js';
export {
  buildGuest,
  defaultGuestCacheDir,
  type Guest,
  type GuestBuildOptions,
} from './guest-build.js';
export { kvmUsable, type Accel } from './qemu.js';

/** `--runtime auto`: pod VMs where KVM can run them, runc sandboxes otherwise. */
export function autoBackend(): 'vm' | 'runc' {
  return kvmUsable() ? 'vm' : 'runc';
}

export function createVmRuntime(
  options: VmRuntimeOptions,
): Runtime & { readonly accelerator: 'kvm' | 'tcg' } {
  return new VmRuntime(options);
}
