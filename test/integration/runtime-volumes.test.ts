// Volumes in real containers on both backends: content written with the atomic writer (the
// portlayer's WriteVolumeFiles) appears in a running runc container and in a container of a pod
// VM (over its 9p share), a rewrite becomes visible there, a read-only mount refuses writes, and
// a subPath that climbs out through a symlink the volume holds is refused and touches nothing
// on the host.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/runtime/errors.js';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import type { Runtime, VolumeMount } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import { writeAtomically } from '../../src/vch/volumes/atomic-writer.js';
import {
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

let tmp: string;
let rootfs: string;
const newId = () => randomBytes(32).toString('hex');
const file = (path: string, text: string, mode = 0o644) => ({
  path,
  data: Buffer.from(text),
  mode,
});

beforeAll(() => {
  ensureTether();
  ensureAgent();
  tmp = mkdtempSync(join(tmpdir(), 'runtime-volumes-'));
  rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
});

afterAll(() => {
  if (!tmp) return;
  killQemus(tmp);
  waitNoQemu(tmp);
  cleanupRuntimeDir(tmp, join(tmp, 'runc-state', 'runc'));
});

async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const backends: [string, () => Runtime, number][] = [
  [
    'runc',
    () => createRuncRuntime({ stateDir: join(tmp, 'runc-state'), tetherPath: ensureTether() }),
    60_000,
  ],
  ['vm', () => createVmRuntime({ stateDir: join(tmp, 'vm-state') }), 240_000],
];

describe.each(backends)('volumes on %s', (name, make, timeout) => {
  it(
    'shows written files, then a rewrite; read-only refuses writes; a hostile subPath is refused',
    async () => {
      const rt = make();
      const sandbox = newId();
      const vol = join(tmp, `${name}-vol`);
      const data = join(tmp, `${name}-data`);
      const outside = join(tmp, `${name}-outside`);
      for (const d of [vol, data, outside]) mkdirSync(d, { recursive: true });
      await writeAtomically(vol, [file('greeting', 'one'), file('dir/nested', 'deep')]);
      // A volume a container could write, holding a link out of it.
      symlinkSync(outside, join(data, 'escape'));
      const mounts: VolumeMount[] = [
        { source: vol, destination: '/etc/config', readOnly: true },
        { source: data, destination: '/data' },
        { source: data, destination: '/sub', subPath: 'made/here' },
      ];
      try {
        await rt.createSandbox({ id: sandbox, hostname: `${name}-vols` });
        const id = newId();
        await rt.createContainer(
          sandbox,
          testContainerSpec(tmp, rootfs, id, ['sleep', '600'], { mounts }),
        );
        await rt.start(id);
        const sh = async (script: string) => {
          const r = await rt.exec(id, { args: ['sh', '-c', script] });
          return { code: r.exitCode, out: r.stdout.toString().trim() };
        };
        expect(await sh('cat /etc/config/greeting /etc/config/dir/nested')).toEqual({
          code: 0,
          out: 'onedeep',
        });
        await writeAtomically(vol, [file('greeting', 'two')]);
        await until('the rewrite inside the container', async () => {
          const r = await sh('cat /etc/config/greeting; ls /etc/config');
          return r.out === 'twogreeting'; // no newlines in the files
        });
        // Read-only where asked, writable elsewhere; the subPath directory was made inside.
        expect((await sh('echo x > /etc/config/new')).code).not.toBe(0);
        expect((await sh('echo hi > /data/f && echo sub > /sub/g')).code).toBe(0);
        expect(existsSync(join(data, 'f'))).toBe(true);
        expect(existsSync(join(data, 'made', 'here', 'g'))).toBe(true);

        // A second container whose subPath goes through the link: refused, nothing made outside.
        const bad = newId();
        await rt.createContainer(
          sandbox,
          testContainerSpec(tmp, rootfs, bad, ['true'], {
            mounts: [{ source: data, destination: '/x', subPath: 'escape/planted' }],
          }),
        );
        const err = await rt.start(bad).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isRuntimeError(err, 'InvalidInput')).toBe(true);
        expect((err as Error).message).toMatch(/escape is a symlink/);
        expect(readdirSync(outside)).toEqual([]);
        // A subPath with .. never gets as far as the backend.
        await expect(
          rt.createContainer(
            sandbox,
            testContainerSpec(tmp, rootfs, newId(), ['true'], {
              mounts: [{ source: data, destination: '/y', subPath: '../..' }],
            }),
          ),
        ).rejects.toThrow(/climbs out/);

        await rt.stop(id, { graceMs: 0 });
        await rt.remove(id);
        await rt.remove(bad);
        // Removing the containers unbound the volumes and left their content alone.
        expect(existsSync(join(data, 'f'))).toBe(true);
        expect(existsSync(join(vol, 'greeting'))).toBe(true);
        await rt.removeSandbox(sandbox);
      } finally {
        await rt.close();
      }
    },
    timeout,
  );
});
