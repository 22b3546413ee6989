// Choosing the backend per pod: the router over two runtime doubles (one named runc, one vm),
// the VCH's choice (request, label, default) recorded in its database and kept across a
// restart, the schema migration of a database from before the choice existed, and --runtime.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RouterRuntime } from '../runtime/router.js';
import { BootStats, parseRuntimeChoice } from './backends.js';
import { SCHEMA_VERSION, VchDb } from './db.js';
import { PortlayerClient } from '../providers/vic/proxy/portlayer-client.js';
import { createPortlayerServer } from './portlayer/server.js';
import { RUNTIME_LABEL } from './runtime-label.js';
import { FakeRuntime, writeTestLayout } from '../../test/support/fake-runtime.js';
import { Vch } from './vch.js';

let dir: string;
let runc: FakeRuntime;
let vm: FakeRuntime;
let vch: Vch | undefined;

const open = (def: 'runc' | 'vm' = 'runc') =>
  Vch.open({
    stateDir: join(dir, 'state'),
    runtime: () => new RouterRuntime({ default: def, backends: { runc, vm } }),
  });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vch-select-'));
  runc = new FakeRuntime('runc');
  vm = new FakeRuntime('vm');
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
});

afterEach(async () => {
  await vch?.close();
  vch = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('RouterRuntime', () => {
  it('puts a sandbox on the backend its spec names, its containers with it', async () => {
    const r = new RouterRuntime({ default: 'runc', backends: { runc, vm } });
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    await r.createSandbox({ id: a, hostname: 'a' });
    await r.createSandbox({ id: b, hostname: 'b', runtime: 'vm', memoryLimitBytes: 2 ** 29 });
    expect([...runc.sandboxes.keys()]).toEqual([a]);
    expect(vm.sandboxes.get(b)).toMatchObject({ memoryLimitBytes: 2 ** 29 });
    const spec = (id: string) => ({
      id,
      name: 'c',
      imageRootfs: '/x',
      process: { args: ['/x'], env: [], cwd: '/', user: '' },
      logPath: '/dev/null',
    });
    await r.createContainer(b, spec('1'.repeat(64)));
    await r.start('1'.repeat(64));
    expect(vm.calls).toContain(`start 11111111`);
    expect(runc.calls.some((c) => c.startsWith('start'))).toBe(false);
    expect((await r.state('1'.repeat(64))).status).toBe('running');
    await expect(r.start('2'.repeat(64))).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(r.createSandbox({ id: b, hostname: 'b', runtime: 'runc' })).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
  });

  it('learns where everything is from both backends on recover', async () => {
    const a = 'a'.repeat(64);
    await vm.createSandbox({ id: a, hostname: 'a' });
    const r = new RouterRuntime({ default: 'runc', backends: { runc, vm } });
    expect((await r.recover()).sandboxes).toEqual([a]);
    expect(r.backendOf(a)).toBe('vm');
    await r.removeSandbox(a);
    expect(vm.sandboxes.size).toBe(0);
  });

  it('refuses a backend it does not have', async () => {
    const r = new RouterRuntime({ default: 'runc', backends: { runc } });
    await expect(
      r.createSandbox({ id: 'c'.repeat(64), hostname: 'c', runtime: 'vm' }),
    ).rejects.toMatchObject({ kind: 'InvalidInput' });
  });
});

describe('the VCH chooses per pod', () => {
  it('takes the request, then the label, then the default; records it; keeps it on restart', async () => {
    vch = await open('runc');
    await vch.loadImages(join(dir, 'layout'));
    const plain = await vch.createPod({ name: 'plain' });
    const labelled = await vch.createPod({ name: 'labelled', labels: { [RUNTIME_LABEL]: 'vm' } });
    const c = await vch.createContainer({
      image: 'example.test/app:1',
      name: 'solo',
      runtime: 'vm',
      memoryLimitBytes: 300 * 2 ** 20,
    });
    expect(plain.runtime).toBe('runc');
    expect(labelled.runtime).toBe('vm');
    expect(c.runtime).toBe('vm');
    expect(runc.sandboxes.has(plain.id)).toBe(true);
    expect(vm.sandboxes.has(labelled.id)).toBe(true);
    // A container of its own: its sandbox is sized by its limits.
    expect(vm.sandboxes.get(c.podId)).toMatchObject({ memoryLimitBytes: 300 * 2 ** 20 });
    await vch.startContainer(c.id);
    expect(vm.calls).toContain(`start ${c.id.slice(0, 8)}`);
    await vch.close();

    // Restarted with the other default: existing pods stay where they are.
    vch = await open('vm');
    expect((await vch.inspectPod('plain')).runtime).toBe('runc');
    expect((await vch.inspectContainer('solo')).runtime).toBe('vm');
    await vch.stopContainer('solo', { timeoutSeconds: 0 });
    expect(vm.calls.filter((x) => x.startsWith('stop'))).toHaveLength(1);
    expect((await vch.createPod({ name: 'new' })).runtime).toBe('vm');
  });

  it('refuses a bad choice with one clear line and keeps nothing', async () => {
    vch = await open();
    await vch.loadImages(join(dir, 'layout'));
    await expect(vch.createPod({ labels: { [RUNTIME_LABEL]: 'kata' } })).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: `label ${RUNTIME_LABEL}= "kata": want runc or vm`,
    });
    await expect(
      vch.createContainer({ image: 'example.test/app:1', labels: { [RUNTIME_LABEL]: 'VM' } }),
    ).rejects.toMatchObject({ kind: 'InvalidInput' });
    expect(await vch.listPods()).toEqual([]);
    expect(await vch.listContainers({ all: true })).toEqual([]);
  });
});

describe('through the portlayer', () => {
  it('a handle annotated vic-kubelet.io/runtime=vm makes a pod VM sized by the handle', async () => {
    vch = await open('runc');
    await vch.loadImages(join(dir, 'layout'));
    const imageId = (await vch.inspectImage('example.test/app:1')).id;
    const server = createPortlayerServer(vch, {});
    const socket = join(dir, 'pl.sock');
    await new Promise<void>((r) => server.listen(socket, r));
    try {
      const pl = new PortlayerClient(`unix://${socket}`);
      const commit = async (annotations: Record<string, string>, name: string) => {
        const created = await pl.createHandle({ name, annotations, memoryMB: 512, numCPUs: 2 });
        let h = await pl.addImageToHandle(created.handle, {
          deltaID: 'app',
          imageID: imageId,
          repoName: 'example.test/app:1',
        });
        h = (await pl.createHandleTask(h, { name: 'app', path: '/bin/app', args: [] })).handle;
        await pl.commitHandle(h);
      };
      await commit({ [RUNTIME_LABEL]: 'vm' }, 'ns_vmpod');
      const pod = await vch.inspectPod('ns_vmpod');
      expect(pod.runtime).toBe('vm');
      expect(vm.sandboxes.get(pod.id)).toMatchObject({
        memoryLimitBytes: 512 * 2 ** 20,
        cpuMillis: 2000,
        runtime: 'vm',
      });
      await expect(commit({ [RUNTIME_LABEL]: 'gvisor' }, 'ns_bad')).rejects.toThrow(
        /want runc or vm/,
      );
      expect((await vch.listPods()).map((p) => p.name)).toEqual(['ns_vmpod']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the database', () => {
  it('migrates a schema-1 database: its pods ran on runc', () => {
    const file = join(dir, 'old.db');
    // A schema-1 database: today's less the column and the volumes, with a pod from before.
    new VchDb(file).close();
    const old = new Database(file);
    old.exec('ALTER TABLE pods DROP COLUMN runtime');
    old.exec('DROP TABLE volumes');
    old.exec(`INSERT INTO pods VALUES ('${'d'.repeat(64)}', 'p', 'p', '{}', 0, '{}', 'now')`);
    old.pragma('user_version = 1');
    old.close();
    const db = new VchDb(file);
    expect(db.pod('d'.repeat(64))?.runtime).toBe('runc');
    db.close();
    const again = new Database(file);
    expect(again.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    again.close();
  });
});

describe('--runtime and the boot metric', () => {
  it('takes runc, vm or auto and refuses the rest in one line', () => {
    expect(parseRuntimeChoice('auto')).toBe('auto');
    expect(() => parseRuntimeChoice('kvm')).toThrow('--runtime "kvm": want runc, vm or auto');
  });

  it('counts boots with their mean, maximum and last', () => {
    const s = new BootStats();
    expect(s.snapshot()).toEqual({ count: 0, maxMs: 0 });
    s.record(3000, 'tcg');
    s.record(5000, 'tcg');
    expect(s.snapshot()).toEqual({
      count: 2,
      meanMs: 4000,
      maxMs: 5000,
      lastMs: 5000,
      accel: 'tcg',
    });
  });
});
