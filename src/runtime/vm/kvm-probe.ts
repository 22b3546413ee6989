// Is KVM usable here? `--runtime auto` asks once per process. /dev/kvm alone says little: a
// guest without the CPU's virtualization extensions may still have the device (this project's
// CI machine does: a tiny real-mode program even runs, yet a Linux guest hangs at boot). So the
// answer is, in order: the device opens read-write; the CPU has VMX or SVM; and a real pod VM
// (the guest kernel and agent the vm backend uses) boots under KVM within a timeout.
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmRuntime, type VmRuntimeOptions } from './vm-runtime.js';

export interface KvmVerdict {
  usable: boolean;
  /** Why, for the log line of `--runtime auto`. */
  reason: string;
}

export interface KvmProbeOptions {
  /** How long the probe VM may take to boot. Default 8 s (KVM boots one in under 1 s). */
  timeoutMs?: number;
  guest?: VmRuntimeOptions['guest'];
  qemuPath?: string;
  /** Boot the probe VM even when the cheap checks say no (tests of the probe itself). */
  skipPrerequisites?: boolean;
  /** Where the probe's guest build (first use: minutes) reports its progress. */
  logger?: VmRuntimeOptions['logger'];
}

let cached: Promise<KvmVerdict> | undefined;

/** The verdict, probed on first call and kept for the life of the process. */
export function probeKvm(options: KvmProbeOptions = {}): Promise<KvmVerdict> {
  cached ??= probe(options);
  return cached;
}

/** The cheap checks alone: the device and the CPU flags (no VM is started). */
export function kvmPrerequisites(): KvmVerdict {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (e) {
    return {
      usable: false,
      reason: `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}`,
    };
  }
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    // below: no flags known
  }
  if (!/\b(vmx|svm)\b/.test(flags))
    return {
      usable: false,
      reason: '/dev/kvm exists but the CPU has no VMX/SVM extensions (KVM cannot run a guest)',
    };
  return { usable: true, reason: '/dev/kvm is usable and the CPU has VMX/SVM' };
}

/** The probe itself, uncached. */
export async function probe(o: KvmProbeOptions): Promise<KvmVerdict> {
  const pre = kvmPrerequisites();
  if (!pre.usable && !o.skipPrerequisites) return pre;
  const timeoutMs = o.timeoutMs ?? 8000;
  const dir = await mkdtemp(join(tmpdir(), 'vic-kvm-probe-'));
  const vm = new VmRuntime({
    stateDir: dir,
    accel: 'kvm',
    bootTimeoutMs: timeoutMs,
    ...(o.guest && { guest: o.guest }),
    ...(o.qemuPath && { qemuPath: o.qemuPath }),
    ...(o.logger && { logger: o.logger }),
  });
  const id = 'f'.repeat(64);
  const t0 = Date.now();
  try {
    // Booted means the guest's agent said hello: the kernel ran all the way to its init.
    await vm.createSandbox({ id, hostname: 'kvm-probe' });
    await vm.booted(id);
    return { usable: true, reason: `a probe VM booted under KVM in ${Date.now() - t0} ms` };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    return {
      usable: false,
      reason: `a probe VM did not boot under KVM within ${timeoutMs} ms (${first})`,
    };
  } finally {
    // Powers the VM off (or kills a qemu that does not answer): the probe leaves nothing.
    await vm.removeSandbox(id).catch(() => {});
    await vm.close().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
