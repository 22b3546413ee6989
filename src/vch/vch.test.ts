// The VCH core over a Runtime double: state in the database, lookups, lifecycle, logs, restart.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STDERR, STDOUT, type LogChunk } from '../iolog/index.js';
import { FakeRuntime, writeTestLayout } from '../../test/support/fake-runtime.js';
import { Vch, LOST_EXIT_CODE } from './vch.js';
import type { VchEvent } from './types.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;

async function open(): Promise<Vch> {
  return Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
}

async function collect(r: AsyncIterable<unknown>): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  for await (const c of r as AsyncIterable<LogChunk>) {
    if (c.stream === STDOUT) out += c.data.toString();
    else err += c.data.toString();
  }
  return { out, err };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vch-test-'));
  fake = new FakeRuntime();
  vch = await open();
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', {
    Entrypoint: ['/bin/app'],
    Cmd: ['--serve'],
    Env: ['PATH=/bin', 'MODE=image'],
    WorkingDir: '/srv',
    StopSignal: 'SIGINT',
  });
  await vch.loadImages(join(dir, 'layout'));
});

afterEach(async () => {
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('images', () => {
  it('lists a loaded image under its reference and finds it by id prefix', async () => {
    const [img] = await vch.listImages();
    expect(img.references).toEqual(['example.test/app:1']);
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.created).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect((await vch.inspectImage(img.id.slice(7, 19))).id).toBe(img.id);
    expect((await vch.inspectImage('example.test/app:1')).id).toBe(img.id);
    await expect(vch.inspectImage('example.test/app:2')).rejects.toMatchObject({
      kind: 'NotFound',
    });
  });

  it('refuses to remove an image a container uses, and removes it after', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1' });
    await expect(vch.removeImage('example.test/app:1')).rejects.toMatchObject({ kind: 'Conflict' });
    await vch.removeContainer(c.id);
    const r = await vch.removeImage('example.test/app:1');
    expect(r.untagged).toEqual(['example.test/app:1']);
    expect(r.deleted).toHaveLength(1);
    expect(await vch.listImages()).toEqual([]);
    await expect(vch.removeImage('example.test/app:1')).rejects.toMatchObject({ kind: 'NotFound' });
  });
});

describe('containers', () => {
  it('creates with the merged process, a generated name and a sandbox of its own', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1', env: ['MODE=req'] });
    expect(c.id).toMatch(/^[0-9a-f]{64}$/);
    expect(c.name).toMatch(/^[a-z]+_[a-z]+\d*$/);
    expect(c.path).toBe('/bin/app');
    expect(c.args).toEqual(['--serve']);
    expect(c.env).toEqual(['PATH=/bin', 'MODE=req']);
    expect(c.workingDir).toBe('/srv');
    expect(c.stopSignal).toBe('SIGINT');
    expect(c.status).toBe('created');
    expect(c.ownPod).toBe(true);
    expect(fake.sandboxes.has(c.podId)).toBe(true);
    const spec = fake.containers.get(c.id)!.spec;
    expect(spec.process.args).toEqual(['/bin/app', '--serve']);
    expect(spec.logPath).toBe(join(dir, 'state', 'containers', c.id, 'output.log'));
    expect(existsSync(spec.logPath)).toBe(true);
  });

  it('looks containers up by id, unique prefix and name; refuses a taken or bad name', async () => {
    const a = await vch.createContainer({ image: 'example.test/app:1', name: 'web' });
    expect((await vch.inspectContainer('web')).id).toBe(a.id);
    expect((await vch.inspectContainer('/web')).id).toBe(a.id);
    expect((await vch.inspectContainer(a.id.slice(0, 5))).id).toBe(a.id);
    await expect(
      vch.createContainer({ image: 'example.test/app:1', name: 'web' }),
    ).rejects.toMatchObject({
      kind: 'Conflict',
    });
    await expect(
      vch.createContainer({ image: 'example.test/app:1', name: 'a b' }),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
    await expect(vch.inspectContainer('nope')).rejects.toMatchObject({ kind: 'NotFound' });
    // A failed create leaves nothing behind.
    expect(await vch.listContainers({ all: true })).toHaveLength(1);
  });

  it('refuses an unknown image with NotFound (the CLI then pulls)', async () => {
    await expect(vch.createContainer({ image: 'example.test/other' })).rejects.toMatchObject({
      kind: 'NotFound',
      message: 'No such image: example.test/other:latest',
    });
  });

  it('runs, records the exit, and answers wait', async () => {
    const events: VchEvent[] = [];
    vch.on('event', (e) => events.push(e));
    const c = await vch.createContainer({ image: 'example.test/app:1', name: 'job' });
    const waiting = vch.waitContainer('job', 'next-exit');
    expect(await vch.startContainer('job')).toBe(true);
    expect(await vch.startContainer('job')).toBe(false);
    const running = await vch.inspectContainer('job');
    expect(running.status).toBe('running');
    expect(running.pid).toBeGreaterThan(0);
    fake.exit(c.id, 3);
    expect(await waiting).toEqual({ exitCode: 3 });
    const done = await vch.inspectContainer('job');
    expect(done.status).toBe('exited');
    expect(done.exitCode).toBe(3);
    expect(done.finishedAt).toBeDefined();
    expect(await vch.waitContainer('job')).toEqual({ exitCode: 3 });
    expect(events.map((e) => e.action)).toEqual(['create', 'start', 'die']);
    // A second start is a restart.
    await vch.startContainer('job');
    expect((await vch.inspectContainer('job')).restartCount).toBe(1);
  });

  it('execs in a running container by name; Conflict when it is not running, NotFound when none', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1', name: 'web' });
    await expect(vch.execInContainer('web', { args: ['true'] })).rejects.toMatchObject({
      kind: 'Conflict',
    });
    await vch.startContainer('web');
    const r = await vch.execInContainer('web', { args: ['echo', 'hi'], user: 'app' });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(r.stdout.toString()).toBe('echo hi\n');
    expect(fake.calls).toContain(`exec ${c.id.slice(0, 8)} echo hi`);
    await expect(vch.execInContainer('nope', { args: ['true'] })).rejects.toMatchObject({
      kind: 'NotFound',
    });
    fake.exit(c.id, 0);
    await vch.waitContainer('web');
    await expect(vch.execInContainer('web', { args: ['true'] })).rejects.toMatchObject({
      kind: 'Conflict',
    });
  });

  it('stops with the stop signal and timeout; kill of a stopped container is a conflict', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1', stopTimeout: 3 });
    await vch.startContainer(c.id);
    expect(await vch.stopContainer(c.id)).toBe(true);
    expect(fake.calls).toContain(`stop ${c.id.slice(0, 8)} SIGINT 3000`);
    expect((await vch.inspectContainer(c.id)).exitCode).toBe(143);
    expect(await vch.stopContainer(c.id)).toBe(false);
    await expect(vch.killContainer(c.id)).rejects.toMatchObject({ kind: 'Conflict' });
  });

  it('refuses to remove a running container unless forced, and removes its sandbox and log', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1' });
    await vch.startContainer(c.id);
    await expect(vch.removeContainer(c.id)).rejects.toMatchObject({ kind: 'Conflict' });
    const removed = vch.waitContainer(c.id, 'removed');
    await vch.removeContainer(c.id, { force: true });
    await removed;
    expect(fake.containers.size).toBe(0);
    expect(fake.sandboxes.size).toBe(0);
    expect(existsSync(join(dir, 'state', 'containers', c.id))).toBe(false);
    await expect(vch.inspectContainer(c.id)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('keeps a start failure on the container', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1' });
    fake.failStart = Object.assign(new Error('exec: /bin/app: no such file'), {
      kind: 'InvalidInput',
    });
    await expect(vch.startContainer(c.id)).rejects.toThrow('no such file');
    const info = await vch.inspectContainer(c.id);
    expect(info.status).toBe('created');
    expect(info.error).toBe('exec: /bin/app: no such file');
    expect(info.exitCode).toBe(127);
  });

  it('filters the list as docker ps does', async () => {
    const a = await vch.createContainer({
      image: 'example.test/app:1',
      name: 'alpha',
      labels: { tier: 'web' },
    });
    await vch.createContainer({ image: 'example.test/app:1', name: 'beta' });
    await vch.startContainer(a.id);
    const names = async (f: Parameters<Vch['listContainers']>[0]) =>
      (await vch.listContainers(f)).map((c) => c.name).sort();
    expect(await names({})).toEqual(['alpha']);
    expect(await names({ all: true })).toEqual(['alpha', 'beta']);
    expect(await names({ statuses: ['created'] })).toEqual(['beta']);
    expect(await names({ all: true, names: ['bet'] })).toEqual(['beta']);
    expect(await names({ all: true, labels: ['tier=web'] })).toEqual(['alpha']);
    expect(await names({ all: true, labels: ['tier'] })).toEqual(['alpha']);
    expect(await names({ all: true, ids: [a.id.slice(0, 6)] })).toEqual(['alpha']);
  });
});

describe('logs', () => {
  it('answers the streams apart, with tail, and follows until the container stops', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1' });
    await vch.startContainer(c.id);
    await fake.output(c.id, STDOUT, 'one\n');
    await fake.output(c.id, STDERR, 'oops\n');
    await fake.output(c.id, STDOUT, 'two\n');
    expect(await collect(await vch.logs(c.id))).toEqual({ out: 'one\ntwo\n', err: 'oops\n' });
    expect(await collect(await vch.logs(c.id, { stream: 'stdout' }))).toEqual({
      out: 'one\ntwo\n',
      err: '',
    });
    expect(await collect(await vch.logs(c.id, { tail: 1 }))).toEqual({ out: 'two\n', err: '' });
    const ts = await collect(await vch.logs(c.id, { tail: 1, timestamps: true }));
    expect(ts.out).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z two\n$/);

    const follow = collect(await vch.logs(c.id, { follow: true, tail: 0 }));
    await new Promise((r) => setTimeout(r, 100));
    await fake.output(c.id, STDOUT, 'three\n');
    await new Promise((r) => setTimeout(r, 100));
    fake.exit(c.id, 0);
    expect(await follow).toEqual({ out: 'three\n', err: '' });
  });

  it('refuses a bad query with InvalidInput', async () => {
    const c = await vch.createContainer({ image: 'example.test/app:1' });
    await expect(vch.logs(c.id, { tail: -1 })).rejects.toMatchObject({ kind: 'InvalidInput' });
  });
});

describe('restart of the VCH', () => {
  it('keeps running containers watched, marks vanished ones exited, keeps logs', async () => {
    const keep = await vch.createContainer({ image: 'example.test/app:1', name: 'keep' });
    const gone = await vch.createContainer({ image: 'example.test/app:1', name: 'gone' });
    const ended = await vch.createContainer({ image: 'example.test/app:1', name: 'ended' });
    for (const c of [keep, gone, ended]) await vch.startContainer(c.id);
    await fake.output(keep.id, STDOUT, 'before\n');
    await vch.close();
    // While the VCH is away: one container vanishes, one exits, one keeps logging.
    fake.containers.delete(gone.id);
    fake.exit(ended.id, 7);
    await fake.output(keep.id, STDOUT, 'during\n');

    vch = await open();
    expect((await vch.inspectContainer('keep')).status).toBe('running');
    const g = await vch.inspectContainer('gone');
    expect(g).toMatchObject({ status: 'exited', exitCode: LOST_EXIT_CODE, error: 'Lost' });
    expect(await vch.inspectContainer('ended')).toMatchObject({ status: 'exited', exitCode: 7 });
    expect((await collect(await vch.logs('keep'))).out).toBe('before\nduring\n');
    // The re-attached watcher records the exit.
    const w = vch.waitContainer('keep');
    fake.exit(keep.id, 0);
    expect(await w).toEqual({ exitCode: 0 });
    expect((await vch.inspectContainer('keep')).status).toBe('exited');
  });
});

describe('the state directory', () => {
  it("is the VCH's alone: mode 0700", () => {
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
  });

  it('is held by one VCH at a time, and free again once the holder has gone', async () => {
    await expect(open()).rejects.toMatchObject({
      kind: 'Conflict',
      message: expect.stringContaining(`in use by process ${process.pid}`),
    });
    await vch.close();
    vch = await open();
    expect(readFileSync(join(dir, 'state', 'vch.pid'), 'utf8')).toBe(`${process.pid}\n`);
  });

  it('takes over the pid lock file an older VCH left when its process is gone', async () => {
    await vch.close();
    writeFileSync(join(dir, 'state', 'vch.lock'), '2147483646\n');
    vch = await open();
    await expect(open()).rejects.toMatchObject({ kind: 'Conflict' });
  });
});

describe('the database', () => {
  it('refuses a file that is not a VCH database with one clear line, and leaves it alone', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'vch.db'), 'this is not sqlite, it is a note\n'.repeat(200));
    await expect(
      Vch.open({ stateDir: bad, runtime: () => new FakeRuntime() }),
    ).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `cannot open the VCH database ${join(bad, 'vch.db')}: file is not a database`,
    });
    expect(readFileSync(join(bad, 'vch.db'), 'utf8')).toMatch(/^this is not sqlite/);
    // The failed open let go of the state directory: it opens once the file is a database.
    rmSync(join(bad, 'vch.db'));
    const again = await Vch.open({ stateDir: bad, runtime: () => new FakeRuntime() });
    await again.close();
  });
});

describe('pods', () => {
  it('holds several containers and is removed with them when forced', async () => {
    const pod = await vch.createPod({ name: 'ns_web' });
    const a = await vch.createContainer({
      image: 'example.test/app:1',
      podId: pod.id,
      name: 'ns_web_app',
      nameInPod: 'app',
    });
    await vch.createContainer({
      image: 'example.test/app:1',
      podId: 'ns_web',
      name: 'ns_web_side',
      nameInPod: 'side',
    });
    expect(a.ownPod).toBe(false);
    expect(fake.containers.get(a.id)!.spec.name).toBe('app');
    expect((await vch.inspectPod('ns_web')).containerIds).toHaveLength(2);
    await expect(vch.removePod(pod.id)).rejects.toMatchObject({ kind: 'Conflict' });
    await vch.removePod(pod.id, { force: true });
    expect(await vch.listPods()).toEqual([]);
    expect(fake.sandboxes.size).toBe(0);
  });
});

describe('capacity', () => {
  it('counts the limits of running containers', async () => {
    const c = await vch.createContainer({
      image: 'example.test/app:1',
      memoryLimitBytes: 64 << 20,
      cpuMillis: 500,
    });
    await vch.startContainer(c.id);
    const cap = await vch.capacity();
    expect(cap.cpus).toBeGreaterThan(0);
    expect(cap.memoryBytes).toBeGreaterThan(0);
    expect(cap.diskBytes).toBeGreaterThan(cap.diskFreeBytes);
    expect(cap).toMatchObject({
      usedMemoryBytes: 64 << 20,
      usedCpuMillis: 500,
      runningContainers: 1,
    });
  });
});
