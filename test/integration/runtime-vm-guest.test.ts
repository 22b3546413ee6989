// The pod VM's guest as the runtime builds it from Debian's packages (linux-image-amd64's
// kernel, busybox-static, the project's agent) into the user's cache: built from nothing on a
// fresh machine (CI), taken from the cache after that. What is inside is checked by unpacking
// the initramfs with busybox cpio.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuest, defaultGuestCacheDir } from '../../src/runtime/vm/guest-build.js';
import { moduleDepends } from '../../src/runtime/vm/kernel-files.js';
import { ensureAgent } from '../support/vm.js';

const tmp = mkdtempSync(join(tmpdir(), 'runtime-vm-guest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pod VM guest build', () => {
  it('builds (or finds) the kernel and an initramfs with the agent as /init and the modules in order', async () => {
    const agent = ensureAgent();
    const t0 = Date.now();
    const g = await buildGuest({ agentPath: agent });
    console.log(`guest build: ${g.buildMs} ms (${Date.now() - t0} ms with the check of the cache)`);
    expect(g.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
    const kernel = readFileSync(g.kernel);
    // vmlinux for the PVH entry (Debian's kernels have CONFIG_PVH).
    expect(g.kernelIsElf).toBe(true);
    expect(kernel.subarray(1, 4).toString()).toBe('ELF');

    writeFileSync(join(tmp, 'initramfs.cpio'), gunzipSync(readFileSync(g.initramfs)));
    const x = join(tmp, 'x');
    const r = spawnSync('sh', [
      '-c',
      `mkdir ${x} && cd ${x} && busybox cpio -i -d < ../initramfs.cpio`,
    ]);
    expect(r.status, r.stderr?.toString()).toBe(0);
    expect(readFileSync(join(x, 'init')).equals(readFileSync(agent))).toBe(true);
    const order = readFileSync(join(x, 'lib/modules/order'), 'utf8').trim().split('\n');
    for (const m of ['virtio_mmio', 'virtio_console', '9pnet_virtio', '9p', 'virtio_net'])
      expect(order).toContain(`${m}.ko`);
    // Each module after those it depends on; no signatures left to check at load time.
    order.forEach((file, i) => {
      const ko = readFileSync(join(x, 'lib/modules', file));
      expect(ko.subarray(1, 4).toString()).toBe('ELF');
      expect(ko.subarray(-28).toString()).not.toBe('~Module signature appended~\n');
      for (const dep of moduleDepends(ko)) expect(order.indexOf(`${dep}.ko`)).toBeLessThan(i);
    });

    // Cached now: a second call builds nothing.
    const again = await buildGuest({ agentPath: agent });
    expect(again.initramfs).toBe(g.initramfs);
    expect(again.buildMs).toBeLessThan(5000);
  }, 180_000);

  it("brings an older version's cached kernel build up to date: the modules added since go in beside it", async () => {
    const agent = ensureAgent();
    const g = await buildGuest({ agentPath: agent });
    // The cache as a version without the network modules left it.
    const cache = join(tmp, 'cache');
    const dir = join(cache, g.kernelVersion);
    cpSync(join(defaultGuestCacheDir(), g.kernelVersion), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as {
      modules: string[];
    };
    const old = manifest.modules.filter((m) => !/^(virtio_net|net_failover|failover)\.ko$/.test(m));
    writeFileSync(join(dir, 'kernel.json'), JSON.stringify({ ...manifest, modules: old }));
    for (const m of ['virtio_net.ko', 'net_failover.ko', 'failover.ko'])
      rmSync(join(dir, 'modules', m), { force: true });

    const updated = await buildGuest({ agentPath: agent, cacheDir: cache });
    const now = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as { modules: string[] };
    expect(now.modules).toEqual(expect.arrayContaining([...old, 'virtio_net.ko', 'failover.ko']));
    expect(
      readFileSync(join(dir, 'modules', 'virtio_net.ko'))
        .subarray(1, 4)
        .toString(),
    ).toBe('ELF');
    expect(updated.kernel).toBe(join(dir, 'kernel'));
  }, 300_000);
});
