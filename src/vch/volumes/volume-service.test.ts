// The volume store over a real database and state directory (a fake runtime: no containers
// run here): names, drivers and their options, hostPath types, usage, the in-use refusal,
// ephemeral pod volumes removed with their pod, and files written into a local volume.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRuntime } from '../../../test/support/fake-runtime.js';
import { type ContainerRow, VchDb } from '../db.js';
import { quietLogger, VchContext } from '../services/context.js';
import { pruneFilter } from './volume-prune.js';
import { VolumeService } from './volume-service.js';

let dir: string;
let db: VchDb;
let volumes: VolumeService;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'volume-service-'));
  mkdirSync(join(dir, 'state'));
  db = new VchDb(join(dir, 'state', 'vch.db'));
  const ctx = new VchContext(
    join(dir, 'state'),
    db,
    new FakeRuntime(),
    quietLogger,
    new EventEmitter(),
  );
  volumes = new VolumeService(ctx);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A pod and a container of it mounting `volume`. */
function containerUsing(volume: string, podId = 'p'.repeat(64)): string {
  if (!db.pod(podId))
    db.insertPod({
      id: podId,
      name: podId.slice(0, 8),
      hostname: 'h',
      labels: {},
      implicit: false,
      spec: {},
      created: 'now',
      runtime: 'runc',
    });
  const id = `${volume.length}`.padStart(64, 'c');
  const row: ContainerRow = {
    id,
    name: `c-${volume}`,
    nameInPod: 'c',
    podId,
    config: { image: 'i', mounts: [{ type: 'volume', source: volume, destination: '/v' }] },
    imageReference: 'i',
    imageId: 'sha256:i',
    process: {
      path: 'sh',
      args: [],
      env: [],
      workingDir: '/',
      user: '',
      stopSignal: 'SIGTERM',
      stopTimeout: 10,
    },
    created: 'now',
    status: 'created',
    restartCount: 0,
  };
  db.insertContainer(row);
  return id;
}

describe('VolumeService', () => {
  it('creates a local disk volume under the state dir (parent 0700), lists, inspects with usage', async () => {
    const v = await volumes.create({ name: 'data', driver: 'local', metadata: { k: 'v' } });
    expect(v.path).toBe(join(dir, 'state', 'volumes', 'data', '_data'));
    expect(statSync(join(dir, 'state', 'volumes', 'data')).mode & 0o777).toBe(0o700);
    expect(statSync(v.path).mode & 0o777).toBe(0o777);
    writeFileSync(join(v.path, 'f'), Buffer.alloc(10_000));
    const info = await volumes.inspect('data');
    expect(info.usageBytes).toBeGreaterThanOrEqual(10_000);
    expect(info.metadata).toEqual({ k: 'v' });
    expect(volumes.list().map((x) => x.name)).toEqual(['data']);
    await expect(volumes.create({ name: 'data', driver: 'local' })).rejects.toMatchObject({
      kind: 'Conflict',
    });
  });

  it('refuses bad names, drivers and options with InvalidInput', async () => {
    for (const req of [
      { name: '-bad', driver: 'local' },
      { name: 'a/b', driver: 'local' },
      { name: 'x'.repeat(129), driver: 'local' },
      { name: 'ok', driver: 'nfs' },
      { name: 'ok', driver: 'local', driverArgs: { medium: 'ssd' } },
      { name: 'ok', driver: 'local', driverArgs: { sizeLimit: '-1' } },
      { name: 'ok', driver: 'local', driverArgs: { path: '/tmp' } },
      { name: 'ok', driver: 'local', driverArgs: { ephemeral: 'true' } },
      { name: 'ok', driver: 'bind', driverArgs: { path: 'relative' } },
      { name: 'ok', driver: 'bind', driverArgs: { path: '/tmp', type: 'Pipe' } },
    ])
      await expect(volumes.create(req as never), JSON.stringify(req)).rejects.toMatchObject({
        kind: 'InvalidInput',
      });
    expect(volumes.list()).toEqual([]);
  });

  it('checks hostPath types with the kubelet’s words, creating for *OrCreate', async () => {
    const host = join(dir, 'host');
    await volumes.create({
      name: 'mk',
      driver: 'bind',
      driverArgs: { path: host, type: 'DirectoryOrCreate' },
    });
    expect(statSync(host).isDirectory()).toBe(true);
    await volumes.create({
      name: 'mkf',
      driver: 'bind',
      driverArgs: { path: join(host, 'f'), type: 'FileOrCreate' },
    });
    expect(statSync(join(host, 'f')).isFile()).toBe(true);
    await expect(
      volumes.create({
        name: 'd',
        driver: 'bind',
        driverArgs: { path: join(host, 'f'), type: 'Directory' },
      }),
    ).rejects.toThrow(`hostPath type check failed: ${join(host, 'f')} is not a directory`);
    await expect(
      volumes.create({ name: 's', driver: 'bind', driverArgs: { path: host, type: 'Socket' } }),
    ).rejects.toThrow(`hostPath type check failed: ${host} is not a socket file`);
    await expect(
      volumes.create({
        name: 'm',
        driver: 'bind',
        driverArgs: { path: join(dir, 'missing'), type: 'File' },
      }),
    ).rejects.toThrow(/is not a file/);
    // Removing a bind volume leaves the host path alone.
    await volumes.remove('mk');
    expect(existsSync(host)).toBe(true);
  });

  it('refuses to remove a volume a container mounts (409), then removes it and its content', async () => {
    const v = await volumes.create({ name: 'used', driver: 'local' });
    const id = containerUsing('used');
    await expect(volumes.remove('used')).rejects.toMatchObject({
      kind: 'Conflict',
      message: `volume is in use - [${id.slice(0, 12)}]`,
    });
    expect((await volumes.inspect('used')).usedBy).toEqual([id]);
    db.deleteContainer(id);
    await volumes.remove('used');
    expect(existsSync(v.path)).toBe(false);
    await expect(volumes.remove('used')).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('removes the ephemeral volumes of a pod, by its core or portlayer id, and no others', async () => {
    await volumes.create({
      name: 'e1',
      driver: 'local',
      driverArgs: { pod: 'plid', ephemeral: 'true' },
    });
    await volumes.create({
      name: 'e2',
      driver: 'local',
      driverArgs: { pod: 'coreid', ephemeral: 'true' },
    });
    await volumes.create({
      name: 'kept',
      driver: 'local',
      driverArgs: { pod: 'plid', ephemeral: 'false' },
    });
    await volumes.create({
      name: 'other',
      driver: 'local',
      driverArgs: { pod: 'x', ephemeral: 'true' },
    });
    await volumes.removeOwnedBy({ id: 'coreid', labels: { 'vic.portlayer.id': 'plid' } });
    expect(volumes.list().map((v) => v.name)).toEqual(['kept', 'other']);
  });

  it('prunes unused volumes no pod owns: anonymous ones, or all with all=true, by label', async () => {
    const anon = { 'com.docker.volume.anonymous': '' };
    await volumes.create({ name: 'anon', driver: 'local', metadata: anon });
    await volumes.create({ name: 'named', driver: 'local', metadata: { team: 'a' } });
    await volumes.create({ name: 'other', driver: 'local', metadata: { team: 'b' } });
    await volumes.create({ name: 'used', driver: 'local', metadata: anon });
    await volumes.create({ name: 'podvol', driver: 'local', driverArgs: { pod: 'x' } });
    containerUsing('used');
    writeFileSync(join((await volumes.inspect('anon')).path, 'f'), Buffer.alloc(8192, 1));
    const f = (filters: Record<string, string[]>, old = false) =>
      pruneFilter(new Map(Object.entries(filters)), old);
    const first = await volumes.prune(f({}));
    expect(first.removed).toEqual(['anon']);
    expect(first.bytes).toBeGreaterThanOrEqual(8192);
    expect(await volumes.prune(f({ all: ['true'], 'label!': ['team=b'] }))).toEqual({
      removed: ['named'],
      bytes: 0,
    });
    // Before API 1.42, every unused one.
    expect((await volumes.prune(f({ label: ['team'] }, true))).removed).toEqual(['other']);
    expect(volumes.list().map((v) => v.name)).toEqual(['podvol', 'used']);
    expect(() => f({ dangling: ['true'] })).toThrow(/invalid filter 'dangling'/);
    expect(() => f({ all: ['yes'] })).toThrow(/invalid filter 'all=yes'/);
  });

  it('removes orphans: ephemeral volumes whose pod never came to be, and no others', async () => {
    const eph = (pod: string) => ({ pod, ephemeral: 'true' });
    await volumes.create({ name: 'orphan', driver: 'local', driverArgs: eph('never') });
    await volumes.create({ name: 'owned', driver: 'local', driverArgs: eph('p'.repeat(64)) });
    await volumes.create({ name: 'mounted', driver: 'local', driverArgs: eph('gone') });
    await volumes.create({ name: 'keep', driver: 'local', driverArgs: { pod: 'never' } });
    containerUsing('owned');
    // Its pod is gone, but another pod's container mounts it.
    containerUsing('mounted', 'q'.repeat(64));
    // Made just now: a creation may still be under way.
    expect(await volumes.removeOrphans(Date.now() - 60_000)).toEqual([]);
    expect(await volumes.removeOrphans(Date.now() + 1)).toEqual(['orphan']);
    expect(existsSync(join(dir, 'state', 'volumes', 'orphan'))).toBe(false);
    expect(volumes.list().map((v) => v.name)).toEqual(['keep', 'mounted', 'owned']);
  });

  it('writes files atomically into a local volume, owned as asked; not into a bind volume', async () => {
    const v = await volumes.create({ name: 'cfg', driver: 'local' });
    await volumes.writeFiles('cfg', [{ path: 'k', data: Buffer.from('v'), mode: 0o640 }], {
      uid: 1000,
      gid: 2000,
    });
    expect(readFileSync(join(v.path, 'k'), 'utf8')).toBe('v');
    const st = statSync(join(v.path, 'k'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 2000, 0o640]);
    await volumes.create({ name: 'b', driver: 'bind', driverArgs: { path: dir } });
    await expect(volumes.writeFiles('b', [])).rejects.toMatchObject({ kind: 'InvalidInput' });
  });
});
