// Where the vm backend keeps things under its state directory (`<state>/vm/`, so that it can
// share a VCH's runtime directory with the runc backend). Everything needed to find the VMs and
// containers again after a VCH restart is on disk.
//
//   <state>/vm/sandboxes/<id>/      sandbox.json, qemu.pid, control.sock, data.sock, qmp.sock (qemu's
//                                   unix sockets), console.log (the guest's serial console), qemu.log (qemu's stderr),
//   <state>/vm/sandboxes/<id>/hosts, resolv.conf   the pod's, bound into each container (as volumes)
//   <state>/vm/sandboxes/<id>/share/                 the 9p export "vic.containers":
//                               <cid>/rootfs         the container's overlay (its root in the guest;
//                                                    nothing else of the container is shared)
//                               <cid>/mounts/<i>     its volumes, bound here on the host; the agent
//                                                    binds each into the container
//   <state>/vm/containers/<cid>/    container.json, upper/ and work/ of the overlay
import { join } from 'node:path';

export class VmLayout {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, 'vm');
  }

  get sandboxesDir(): string {
    return join(this.root, 'sandboxes');
  }
  get containersDir(): string {
    return join(this.root, 'containers');
  }

  sandbox(id: string) {
    const dir = join(this.sandboxesDir, id);
    return {
      dir,
      record: join(dir, 'sandbox.json'),
      pidFile: join(dir, 'qemu.pid'),
      // Relative names: qemu binds them in its working directory (the sandbox directory), as a
      // unix socket's path may not exceed 107 bytes and a state directory can be long.
      controlSocketName: 'control.sock',
      dataSocketName: 'data.sock',
      qmpSocketName: 'qmp.sock',
      consoleLog: join(dir, 'console.log'),
      qemuLog: join(dir, 'qemu.log'),
      hosts: join(dir, 'hosts'),
      resolvConf: join(dir, 'resolv.conf'),
      share: join(dir, 'share'),
    };
  }

  container(sandboxId: string, id: string) {
    const dir = join(this.containersDir, id);
    const shared = join(this.sandbox(sandboxId).share, id);
    return {
      dir,
      record: join(dir, 'container.json'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      shared,
      rootfs: join(shared, 'rootfs'),
      /** Behind the container's terminationMessagePath (the guest binds it there). */
      terminationLog: join(shared, 'termination-log'),
      mounts: join(shared, 'mounts'),
    };
  }
}
