// Termination messages in the runtime, on both backends against the real parts (runc; qemu with
// the project's guest and agent): what a container writes at its terminationMessagePath is its
// exit state's message, 4 KiB at most, empty again at each start; a path of its own works,
// and a read-only root does not stop it (the file is bound in, as the kubelet does).
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import {
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

const newId = () => randomBytes(32).toString('hex');

describe.each(['runc', 'vm'] as const)('termination messages on %s', (backend) => {
  let tmp: string;
  let rt: Runtime;
  let sb: string;
  let rootfs: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), `runtime-tmsg-${backend}-`));
    rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
    const stateDir = join(tmp, 'state');
    if (backend === 'runc') rt = createRuncRuntime({ stateDir, tetherPath: ensureTether() });
    else {
      ensureAgent();
      rt = createVmRuntime({ stateDir });
    }
    sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'pod-tmsg' });
  }, 180_000);

  afterAll(async () => {
    if (!tmp) return;
    await rt?.close();
    if (backend === 'vm') {
      killQemus(tmp);
      waitNoQemu(tmp);
    }
    cleanupRuntimeDir(tmp, join(tmp, 'state', 'runc'));
  });

  async function run(script: string, path: string, readOnly = false) {
    const id = newId();
    await rt.createContainer(
      sb,
      testContainerSpec(tmp, rootfs, id, ['sh', '-c', script], {
        terminationMessagePath: path,
        ...(readOnly && { security: { readOnlyRootfs: true } }),
      }),
    );
    await rt.start(id);
    return { id, state: await rt.wait(id) };
  }

  it('what the container wrote is the message; empty again at the next start', async () => {
    const { id, state } = await run(
      'if [ -s /dev/termination-log ]; then echo -n again > /dev/termination-log; exit 0; fi; echo -n "bye: 3" > /dev/termination-log; exit 3',
      '/dev/termination-log',
    );
    expect(state).toMatchObject({ status: 'exited', exitCode: 3, message: 'bye: 3' });
    await rt.start(id); // a restart: the file starts empty, so the first branch is not taken
    expect(await rt.wait(id)).toMatchObject({ exitCode: 3, message: 'bye: 3' });
    await rt.remove(id);
  }, 120_000);

  it('a path of its own, on a read-only root; at most 4 KiB; none written: no message', async () => {
    const big = await run(
      'i=0; while [ $i -lt 500 ]; do echo -n "0123456789"; i=$((i+1)); done > /var/log/msg',
      '/var/log/msg',
      true,
    );
    expect(big.state.exitCode).toBe(0);
    expect(big.state.message).toBe('0123456789'.repeat(500).slice(0, 4096));
    const none = await run('exit 0', '/dev/termination-log');
    expect(none.state).toMatchObject({ exitCode: 0 });
    expect(none.state.message).toBeUndefined();
    await rt.remove(big.id);
    await rt.remove(none.id);
  }, 120_000);
});
