// Where the runc backend keeps things under its state directory. Everything it needs to find
// its sandboxes and containers again after a restart is here; nothing is kept only in memory.
//
//   <state>/runc/                     runc's own --root (its state.json per container)
//   <state>/sandboxes/<id>/           sandbox.json, rootfs/ (empty, for the pause process),
//                                     shm/ (tmpfs shared as /dev/shm), hostname, hosts,
//                                     resolv.conf, bundle/config.json, runc.log
//   <state>/containers/<id>/          container.json, bundle/config.json, rootfs/ (overlay
//                                     mount point, or the copy), upper/, work/, status (the
//                                     tether's started/exited records, written through the fd
//                                     the VCH hands it; the container cannot reach this
//                                     directory), runc.log, mounts/<i> (its volumes,
//                                     bound here and from here into the container)
import { join } from 'node:path';

export class Layout {
  constructor(readonly stateDir: string) {}

  get runcRoot(): string {
    return join(this.stateDir, 'runc');
  }
  get sandboxesDir(): string {
    return join(this.stateDir, 'sandboxes');
  }
  get containersDir(): string {
    return join(this.stateDir, 'containers');
  }
  sandbox(id: string) {
    const dir = join(this.sandboxesDir, id);
    return {
      dir,
      record: join(dir, 'sandbox.json'),
      rootfs: join(dir, 'rootfs'),
      shm: join(dir, 'shm'),
      hostname: join(dir, 'hostname'),
      hosts: join(dir, 'hosts'),
      resolvConf: join(dir, 'resolv.conf'),
      bundle: join(dir, 'bundle'),
      runcLog: join(dir, 'runc.log'),
    };
  }
  container(id: string) {
    const dir = join(this.containersDir, id);
    return {
      dir,
      record: join(dir, 'container.json'),
      bundle: join(dir, 'bundle'),
      rootfs: join(dir, 'rootfs'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      status: join(dir, 'status'),
      mounts: join(dir, 'mounts'),
      runcLog: join(dir, 'runc.log'),
    };
  }
}

/** runc's name for a sandbox's pause container (sandbox and container ids share runc's space). */
export const pauseId = (sandboxId: string): string => `pod-${sandboxId}`;
