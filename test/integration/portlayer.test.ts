// The portlayer API on a real VCH (runc sandboxes, the tether, an image pulled from a real
// registry): a two-task pod created with one commit and started, its tasks' output read back
// through the logs route, a stale handle refused with 409, a commit that fails half-way leaving
// nothing behind in the VCH or in runc, signal and wait with real exit codes, remove.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortlayerClient } from '../../src/providers/vic/proxy/portlayer-client.js';
import { cleanupTestVch, startTestVch, type TestVch } from '../support/test-vch.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let dir: string;
let registry: Registry;
let vch: TestVch;
let pl: PortlayerClient;
let image: string;
let imageId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portlayer-it-'));
  registry = await startRegistry();
  const layout = await buildBusyboxLayout(join(dir, 'image'));
  image = `${registry.host}/busybox:1`;
  await pushImage(layout, 'busybox', image);
  vch = await startTestVch(dir, { insecureRegistries: [registry.host] });
  await vch.vch.pullImage({ reference: image });
  imageId = (await vch.vch.inspectImage(image)).id;
  pl = new PortlayerClient(`unix://${vch.portlayerSocket}`);
}, 120_000);

afterAll(async () => {
  await vch?.close();
  await registry?.stop();
  if (dir) cleanupTestVch(dir);
});

const sh = (script: string) => ({ path: '/bin/sh', args: ['-c', script], env: ['PATH=/bin'] });

async function pod(name: string, tasks: Record<string, string>, start = true) {
  const created = await pl.createHandle({ name, hostname: name });
  let h = created.handle;
  const ids: Record<string, string> = {};
  for (const [task, script] of Object.entries(tasks)) {
    h = await pl.addImageToHandle(h, { deltaID: task, imageID: imageId, repoName: image });
    const j = await pl.createHandleTask(h, { name: task, ...sh(script) });
    h = j.handle;
    ids[task] = j.id;
  }
  h = await pl.addLoggingToHandle(h);
  if (start) h = await pl.setState(h, 'RUNNING');
  await pl.commitHandle(h);
  return { id: created.id, ids };
}

async function text(stream: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const c of stream) out += c;
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | false | undefined>, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const runcList = () =>
  spawnSync('runc', ['--root', join(vch.stateDir, 'runtime', 'runc', 'runc'), 'list', '-q'], {
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean);

describe('portlayer on a real VCH', () => {
  it('runs a two-task pod from one commit; each task has its own log and exit code', async () => {
    const { id, ids } = await pod('two', {
      a: 'echo "a says hi"; echo "a warns" >&2; exit 3',
      b: 'echo "b on $(hostname)"; sleep 300',
    });
    const info = await until('task a to exit', async () => {
      const i = await pl.info(id);
      return i.tasks![0].processConfig.status === 'exited' && i;
    });
    expect(info.containerConfig!.state).toBe('Running');
    expect(info.tasks!.map((t) => [t.name, t.processConfig.status])).toEqual([
      ['a', 'exited'],
      ['b', 'running'],
    ]);
    expect(info.tasks![0].processConfig.exitCode).toBe(3);
    expect(await text(await pl.logs(ids.a, {}))).toBe('a says hi\na warns\n');
    expect(await text(await pl.logs(ids.a, { stream: 'stderr' }))).toBe('a warns\n');
    await until('b to write', async () => (await text(await pl.logs(ids.b, {}))) !== '');
    expect(await text(await pl.logs(ids.b, { timestamps: true }))).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z b on two\n$/,
    );

    // SIGKILL to the pod: b ends; wait answers with the exit codes of both runs.
    await pl.signal(id, 9);
    const stopped = await pl.wait(id, 20);
    expect(stopped.tasks!.map((t) => t.processConfig.exitCode)).toEqual([3, 137]);
    await pl.remove(id);
    await expect(pl.info(id)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('refuses a stale handle with 409 and keeps the first commit', async () => {
    const { id } = await pod('stale', { a: 'sleep 300' }, false);
    const h1 = await pl.handle(id);
    const h2 = await pl.handle(id);
    await pl.commitHandle(await pl.setState(h1, 'RUNNING'));
    const stale = await pl.setState(h2, 'STOPPED');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { socketPath: vch.portlayerSocket, method: 'PUT', path: `/containers/${stale}` },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(409);
    expect((await pl.info(id)).containerConfig!.state).toBe('Running');
    await pl.commitHandle(await pl.setState(await pl.handle(id), 'STOPPED'), 1);
    expect((await pl.info(id)).tasks![0].processConfig.status).toBe('exited');
    await pl.remove(id);
  });

  it('a commit that fails half-way leaves no pod, no container and no runc container', async () => {
    const before = runcList().length;
    const created = await pl.createHandle({ name: 'broken' });
    let h = await pl.addImageToHandle(created.handle, { deltaID: 'ok', imageID: imageId });
    h = (await pl.createHandleTask(h, { name: 'ok', ...sh('sleep 300') })).handle;
    h = await pl.addImageToHandle(h, { deltaID: 'bad', imageID: imageId });
    // No such user in the image: the VCH refuses this task.
    h = (await pl.createHandleTask(h, { name: 'bad', ...sh('true'), user: 'nosuchuser' })).handle;
    h = await pl.setState(h, 'RUNNING');
    await expect(pl.commitHandle(h)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/nosuchuser/),
    });
    await expect(pl.info(created.id)).rejects.toMatchObject({ kind: 'NotFound' });
    expect((await vch.vch.listPods()).map((p) => p.name)).not.toContain('broken');
    expect(runcList().length).toBe(before);
  });

  it('restarts one exited task with a bind; each run has its own log (previous=true)', async () => {
    const { id, ids } = await pod('again', { a: 'echo run $RANDOM$RANDOM; exit 1' });
    await until(
      'a to exit',
      async () => (await pl.info(ids.a)).tasks![0].processConfig.status === 'exited',
    );
    await pl.commitHandle(await pl.bindTask(await pl.handle(id), ids.a));
    const info = await until('a to run twice', async () => {
      const i = await pl.info(ids.a);
      const t = i.tasks![0];
      return t.restartCount === 1 && t.processConfig.status === 'exited' && i;
    });
    expect(info.tasks![0].processConfig.exitCode).toBe(1);
    // As the kubelet keeps them: the current run's log, and the one before it apart.
    const current = await text(await pl.logs(ids.a, {}));
    const previous = await text(await pl.logs(ids.a, { previous: true }));
    expect(current).toMatch(/^run \d+\n$/);
    expect(previous).toMatch(/^run \d+\n$/);
    expect(previous).not.toBe(current);
    await pl.remove(id);
  });

  it('runs exec tasks in a running task: exit code, output, user, timeout; the pod runs on', async () => {
    const { id } = await pod('execs', { app: 'echo up > /state; sleep 300' });
    await until(
      'app to run',
      async () => (await pl.info(id)).tasks![0].processConfig.status === 'running',
    );
    const getTask = (method: string, path: string, body: object) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = request(
          {
            socketPath: vch.portlayerSocket,
            method,
            path,
            headers: {
              'content-length': Buffer.byteLength(data),
              'content-type': 'application/json',
            },
          },
          async (res) => {
            let t = '';
            for await (const c of res) t += c;
            resolve({ status: res.statusCode!, body: t });
          },
        );
        req.on('error', reject);
        req.end(data);
      });
    const exec = async (task: Parameters<typeof pl.createHandleTask>[1]) => {
      const j = await pl.createHandleTask(await pl.handle(id), task);
      await pl.commitHandle(await pl.bindTask(j.handle, j.id));
      const config = { handle: await pl.handle(id), id: j.id };
      expect((await getTask('GET', '/tasks/wait', config)).status).toBe(200);
      const r = await getTask('GET', '/tasks', config);
      expect(r.status).toBe(200);
      const a = JSON.parse(r.body);
      return {
        ...a,
        stdout: Buffer.from(a.stdout, 'base64').toString(),
        stderr: Buffer.from(a.stderr, 'base64').toString(),
      };
    };
    const ran = await exec({
      execIn: 'app',
      ...sh('until [ -f /state ]; do sleep 0.05; done; cat /state; id -u; echo oops >&2; exit 4'),
      user: '65534',
      timeoutSeconds: 10,
    });
    expect(ran).toMatchObject({
      state: 'exited',
      exitCode: 4,
      stdout: 'up\n65534\n',
      stderr: 'oops\n',
      timedOut: false,
    });
    const t0 = Date.now();
    const slow = await exec({ execIn: 'app', ...sh('sleep 60'), timeoutSeconds: 1 });
    expect(slow).toMatchObject({ exitCode: 137, timedOut: true });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await pl.info(id)).tasks![0].processConfig.status).toBe('running');
    await pl.signal(id, 9);
    await pl.wait(id, 20);
    await pl.remove(id);
  });

  it('reports the VCH capacity', async () => {
    const info = await pl.vchInfo();
    expect(info.numCPUs).toBeGreaterThan(0);
    expect(info.memory).toBeGreaterThan(0);
    expect(info.runtime).toBe('runc');
  });
});
