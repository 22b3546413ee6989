// Rotation of a pod VM container's log. The agent writes it through a virtio-serial port whose
// qemu chardev appends to output.log; it cannot rename host files, so when the file is full it
// closes the port and asks (protocol.h: rotate ID SIZE). Here, once the file holds SIZE bytes
// (bytes in flight through the port land first, and then the file ends at the entry boundary
// the agent stopped at), the files shift as the tether shifts them and the port's chardev moves
// to a fresh output.log (QMP chardev-change: the guest keeps its port open); then the agent is
// told (rotated ID) and goes on.
import { open, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type LogRotation, shiftLogFiles } from '../log-rotation.js';
import { sleep } from '../core/time.js';
import type { PodVm } from './pod-vm.js';

/** How long to wait for the bytes in flight to land before rotating anyway. */
const LAND_MS = 5000;

export class LogPortRotation {
  private readonly busy = new Set<string>();

  constructor(
    private readonly rotation: LogRotation,
    private readonly log: Logger,
  ) {}

  /** Answers the agent's rotate for container `id` of `vm`, whose log is `logPath`. */
  async rotate(vm: PodVm, id: string, logPath: string, size: number): Promise<void> {
    // The agent asks again when the host reconnects: one rotation at a time per container.
    if (this.busy.has(id)) return;
    this.busy.add(id);
    try {
      const deadline = Date.now() + LAND_MS;
      while (((await stat(logPath).catch(() => undefined))?.size ?? 0) < size) {
        if (Date.now() > deadline) {
          this.log.warn({ container: id, size }, 'log port: bytes did not land; rotating anyway');
          break;
        }
        await sleep(5);
      }
      await shiftLogFiles(logPath, this.rotation.maxFiles);
      await (await open(logPath, 'a', 0o640)).close();
      // qemu still writes to the file now named .1 (nothing more is in flight); the port's
      // chardev moves to the fresh file. A qemu that cannot (before 2.12) keeps writing to the
      // renamed file: nothing is lost, the files just are not bounded.
      if (!(await vm.changePortFile(id, logPath)))
        this.log.warn({ container: id }, 'log port: qemu cannot move the chardev; not rotated');
      vm.send(['rotated', id]);
    } catch (e) {
      this.log.warn({ container: id, err: (e as Error).message }, 'log port: rotation failed');
    } finally {
      this.busy.delete(id);
    }
  }
}
