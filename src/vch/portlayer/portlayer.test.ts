// The portlayer API over the VCH core (on a Runtime double), driven through the VIC provider's
// own client: handles, joins, atomic commit, stale handles, state, signal, wait, logs, remove,
// and one clear error for bad input.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STDERR, STDOUT } from '../../iolog/index.js';
import { PortlayerClient } from '../../providers/vic/proxy/portlayer-client.js';
import { FakeRuntime, writeTestLayout } from '../../../test/support/fake-runtime.js';
import { Vch } from '../vch.js';
import { createPortlayerServer, portlayerHandler } from './server.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
let server: Server;
let pl: PortlayerClient;
let socket: string;
let imageId: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portlayer-test-'));
  fake = new FakeRuntime();
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', {
    Entrypoint: ['/bin/app'],
    Env: ['PATH=/bin'],
  });
  await vch.loadImages(join(dir, 'layout'));
  imageId = (await vch.inspectImage('example.test/app:1')).id;
  server = createPortlayerServer(vch, { maxPods: 7 });
  socket = join(dir, 'pl.sock');
  await new Promise<void>((r) => server.listen(socket, r));
  pl = new PortlayerClient(`unix://${socket}`);
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A pod of tasks `names`, committed; `state` joined in the same handle when given. */
async function makePod(names: string[], state?: 'RUNNING') {
  const created = await pl.createHandle({
    name: 'default_web',
    hostname: 'web',
    annotations: { 'io.kubernetes.pod.name': 'web' },
  });
  let h = created.handle;
  const tasks: Record<string, string> = {};
  for (const name of names) {
    h = await pl.addImageToHandle(h, {
      deltaID: name,
      imageID: imageId,
      repoName: 'example.test/app:1',
    });
    const t = await pl.createHandleTask(h, { name, path: '/bin/app', args: ['--task', name] });
    h = t.handle;
    tasks[name] = t.id;
  }
  h = await pl.addLoggingToHandle(await pl.addInteractionToHandle(h));
  if (state) h = await pl.setState(h, state);
  await pl.commitHandle(h);
  return { id: created.id, tasks };
}

function raw(method: string, path: string, body?: string, extra: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    // A length, so that a GET's body (VIC's /tasks) is sent as one: Node does not chunk a GET.
    const headers =
      body === undefined
        ? { ...extra }
        : {
            'content-length': Buffer.byteLength(body),
            'content-type': 'application/json',
            ...extra,
          };
    const req = request({ socketPath: socket, method, path, headers }, async (res) => {
      let text = '';
      for await (const c of res) text += c;
      resolve({ status: res.statusCode!, body: text });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('portlayer', () => {
  it('answers ping and /vch/info from the VCH', async () => {
    await pl.ping();
    const info = await pl.vchInfo();
    expect(info.numCPUs).toBeGreaterThan(0);
    expect(info.cpuMhz).toBe(info.numCPUs! * 1000);
    expect(info.memory).toBeGreaterThan(0);
    expect(info).toMatchObject({ maxPods: 7, runtime: 'runc', hostOS: 'linux' });
  });

  it('creates a pod of two tasks with one commit; nothing exists before it', async () => {
    const created = await pl.createHandle({ name: 'default_web', annotations: { a: 'b' } });
    let h = await pl.addImageToHandle(created.handle, { deltaID: 'a', imageID: imageId });
    h = (await pl.createHandleTask(h, { name: 'a', path: '/bin/app', env: ['X=1'] })).handle;
    expect(await vch.listPods()).toEqual([]);
    await expect(pl.info(created.id)).rejects.toMatchObject({ kind: 'NotFound' });
    await pl.commitHandle(h);
    const info = await pl.info(created.id);
    expect(info.containerConfig).toMatchObject({
      containerId: created.id,
      state: 'Created',
      annotations: { a: 'b' },
      names: ['default_web'],
    });
    expect(
      info.tasks!.map((t) => [t.name, t.processConfig.status, t.processConfig.execPath]),
    ).toEqual([['a', 'created', '/bin/app']]);
    expect(info.tasks![0].processConfig.env).toContain('X=1');
  });

  it('starts with state RUNNING; info, list and per-task exits with real exit codes', async () => {
    const { id, tasks } = await makePod(['a', 'b'], 'RUNNING');
    let info = await pl.info(id);
    expect(info.containerConfig!.state).toBe('Running');
    expect(info.logging && info.interaction).toBe(true);
    expect(info.tasks!.map((t) => t.id)).toEqual([tasks.a, tasks.b]);
    const core = (await vch.listContainers({ all: true })).find((c) => c.nameInPod === 'b')!;
    fake.exit(core.id, 3);
    const waited = await pl.wait(tasks.b, 5);
    expect(waited.tasks![0].processConfig).toMatchObject({ status: 'exited', exitCode: 3 });
    info = await pl.info(id);
    expect(info.tasks!.map((t) => t.processConfig.status)).toEqual(['running', 'exited']);
    expect((await pl.list(false)).map((c) => c.containerConfig!.containerId)).toEqual([id]);
  });

  it('runs an exec task: join with execIn, bind, commit; inspect and wait answer its exit and output', async () => {
    const { id } = await makePod(['a', 'b'], 'RUNNING');
    fake.execHandler = (_cid, spec) => ({
      exitCode: 3,
      stdout: Buffer.from(`ran ${spec.args.join(' ')} as ${spec.user} in ${spec.cwd}\n`),
      stderr: Buffer.from([0xff, 0x00]),
      truncated: { stdout: false, stderr: true },
      timedOut: false,
    });
    const before = await pl.handle(id); // a handle made before the exec's commit
    const joined = await pl.createHandleTask(await pl.handle(id), {
      execIn: 'b',
      path: 'cat',
      args: ['/etc/hostname'],
      user: 'app',
      workingDir: '/srv',
      timeoutSeconds: 5,
    });
    await pl.commitHandle(await pl.bindTask(joined.handle, joined.id));
    const core = (await vch.listContainers({ all: true })).find((c) => c.nameInPod === 'b')!;
    expect(fake.calls).toContain(`exec ${core.id.slice(0, 8)} cat /etc/hostname`);
    const config = JSON.stringify({ handle: await pl.handle(id), id: joined.id });
    expect((await raw('GET', '/tasks/wait', config)).status).toBe(200);
    const inspect = await raw('GET', '/tasks', config);
    expect(inspect.status).toBe(200);
    const answer = JSON.parse(inspect.body);
    expect(answer).toMatchObject({
      id: joined.id,
      state: 'exited',
      exitCode: 3,
      stdoutTruncated: false,
      stderrTruncated: true,
      timedOut: false,
      processConfig: { execPath: 'cat', execArgs: ['/etc/hostname'], status: 'exited' },
    });
    expect(Buffer.from(answer.stdout, 'base64').toString()).toBe(
      'ran cat /etc/hostname as app in /srv\n',
    );
    expect(Buffer.from(answer.stderr, 'base64')).toEqual(Buffer.from([0xff, 0x00]));
    // The exec changed nothing of the pod: the older handle is not stale.
    await pl.commitHandle(await pl.setState(before, 'STOPPED'));
    // An exec in a task that does not run, or is not there; an exec on a new container.
    const again = await pl.createHandleTask(await pl.handle(id), { execIn: 'b', path: 'true' });
    await expect(pl.commitHandle(await pl.bindTask(again.handle, again.id))).rejects.toMatchObject({
      kind: 'Conflict',
    });
    const nowhere = await pl.createHandleTask(await pl.handle(id), { execIn: 'zz', path: 'true' });
    await expect(
      pl.commitHandle(await pl.bindTask(nowhere.handle, nowhere.id)),
    ).rejects.toMatchObject({ kind: 'NotFound' });
    const fresh = (await pl.createHandle({})).handle;
    await expect(pl.createHandleTask(fresh, { execIn: 'a', path: 'true' })).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
    // An exec task the pod does not have.
    const other = JSON.stringify({ handle: await pl.handle(id), id: 'e'.repeat(64) });
    expect((await raw('GET', '/tasks', other)).status).toBe(404);
  });

  it('a handle is immutable: a join derives a new one and leaves the old as it was', async () => {
    const created = await pl.createHandle({ name: 'pod1' });
    const h1 = await pl.addImageToHandle(created.handle, { deltaID: 'a', imageID: imageId });
    const h2 = (await pl.createHandleTask(h1, { name: 'a', path: '/bin/app' })).handle;
    expect(h2).not.toBe(h1);
    await pl.commitHandle(h1); // the pod without the task
    expect((await pl.info(created.id)).tasks).toEqual([]);
    // h2 was made for a container that did not exist: it exists now, so h2 is stale.
    await expect(pl.commitHandle(h2)).rejects.toMatchObject({ kind: 'Conflict' });
    // A committed handle is gone.
    await expect(pl.commitHandle(h1)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('refuses a stale handle (409) after another commit on the same container', async () => {
    const { id } = await makePod(['a']);
    const first = await pl.handle(id);
    const second = await pl.handle(id);
    await pl.commitHandle(await pl.setState(first, 'RUNNING'));
    const stale = await pl.setState(second, 'STOPPED');
    await expect(pl.commitHandle(stale)).rejects.toMatchObject({
      kind: 'Conflict',
      message: expect.stringMatching(/stale/),
    });
    expect((await pl.info(id)).containerConfig!.state).toBe('Running');
    const status = await raw('PUT', `/containers/${await pl.setState(second, 'STOPPED')}`);
    expect(status.status).toBe(409);
    expect(JSON.parse(status.body)).toMatchObject({ code: 409 });
  });

  it('commit is all or nothing: a start that fails removes the pod it was creating', async () => {
    const created = await pl.createHandle({ name: 'doomed' });
    let h = created.handle;
    for (const name of ['a', 'b']) {
      h = await pl.addImageToHandle(h, { deltaID: name, imageID: imageId });
      h = (await pl.createHandleTask(h, { name, path: '/bin/app' })).handle;
    }
    h = await pl.setState(h, 'RUNNING');
    let starts = 0;
    const realStart = fake.start.bind(fake);
    fake.start = async (cid) => {
      if (++starts === 2)
        throw Object.assign(new Error('no such file: /bin/app'), { kind: 'InvalidInput' });
      return realStart(cid);
    };
    await expect(pl.commitHandle(h)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/no such file/),
    });
    expect(await vch.listPods()).toEqual([]);
    expect(await vch.listContainers({ all: true })).toEqual([]);
    expect([...fake.containers.values()].filter((c) => c.state.status === 'running')).toEqual([]);
  });

  it('commit is all or nothing on an existing pod: tasks it started are stopped again', async () => {
    const { id } = await makePod(['a', 'b']);
    let starts = 0;
    const realStart = fake.start.bind(fake);
    fake.start = async (cid) => {
      if (++starts === 2) throw Object.assign(new Error('start failed'), { kind: 'Unavailable' });
      return realStart(cid);
    };
    await expect(
      pl.commitHandle(await pl.setState(await pl.handle(id), 'RUNNING')),
    ).rejects.toMatchObject({
      kind: 'Unavailable',
    });
    const info = await pl.info(id);
    expect(info.tasks!.every((t) => t.processConfig.status !== 'running')).toBe(true);
    // The version did not move: a handle made before the failed commit still commits.
  });

  it('restarts one exited task with a task bind (restart count counts it)', async () => {
    const { id, tasks } = await makePod(['a', 'b'], 'RUNNING');
    const coreA = (await vch.listContainers({ all: true })).find((c) => c.nameInPod === 'a')!;
    fake.exit(coreA.id, 1);
    await pl.wait(tasks.a, 5);
    await pl.commitHandle(await pl.bindTask(await pl.handle(id), tasks.a));
    const a = (await pl.info(id)).tasks!.find((t) => t.name === 'a')!;
    expect(a).toMatchObject({ restartCount: 1, processConfig: { status: 'running' } });
    await expect(pl.bindTask(await pl.handle(id), 'f'.repeat(64))).rejects.toMatchObject({
      kind: 'NotFound',
    });
  });

  it('replaces a task: remove (refused while it runs) and a new join of the same name, one commit', async () => {
    const { id, tasks } = await makePod(['a', 'b'], 'RUNNING');
    // Running: the commit refuses the removal, and nothing changes.
    const h0 = await pl.removeTask(await pl.handle(id), tasks.a);
    await expect(pl.commitHandle(h0)).rejects.toMatchObject({ kind: 'Conflict' });
    const coreA = (await vch.listContainers({ all: true })).find((c) => c.nameInPod === 'a')!;
    fake.exit(coreA.id, 0);
    await pl.wait(tasks.a, 5);
    let h = await pl.removeTask(await pl.handle(id), tasks.a);
    h = await pl.addImageToHandle(h, { deltaID: 'a', imageID: imageId, repoName: 'x/app:2' });
    const joined = await pl.createHandleTask(h, { name: 'a', path: '/bin/app', args: ['v2'] });
    await pl.commitHandle(joined.handle);
    const info = await pl.info(id);
    expect(info.tasks!.map((t) => [t.name, t.id, t.processConfig.status])).toEqual([
      ['b', tasks.b, 'running'],
      ['a', joined.id, 'created'],
    ]);
    // A task the container does not have cannot be removed.
    await expect(pl.removeTask(await pl.handle(id), tasks.a)).rejects.toMatchObject({
      kind: 'NotFound',
    });
  });

  it('joins a task to a running pod in the PID namespace of another (pidNamespaceOf: kubectl debug --target)', async () => {
    const { id, tasks } = await makePod(['app'], 'RUNNING');
    let h = await pl.addImageToHandle(await pl.handle(id), {
      deltaID: 'debug',
      imageID: imageId,
      repoName: 'example.test/app:1',
    });
    // Only a task the container has (or this handle joins) may be named.
    await expect(
      pl.createHandleTask(h, { name: 'debug', path: '/bin/sh', pidNamespaceOf: 'nope' }),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/pidNamespaceOf "nope"/),
    });
    await expect(
      pl.createHandleTask(h, { name: 'debug', path: '/bin/sh', pidNamespaceOf: 'debug' }),
    ).rejects.toMatchObject({ kind: 'InvalidInput' });
    const joined = await pl.createHandleTask(h, {
      name: 'debug',
      path: '/bin/sh',
      pidNamespaceOf: 'app',
    });
    h = await pl.bindTask(joined.handle, joined.id);
    await pl.commitHandle(h);
    const cores = await vch.listContainers({ all: true });
    const app = cores.find((c) => c.nameInPod === 'app')!;
    const debug = cores.find((c) => c.nameInPod === 'debug')!;
    // The runtime is told the target's id; the app task went on running untouched.
    expect(fake.containers.get(debug.id)!.spec.pidNamespaceOf).toBe(app.id);
    expect(fake.containers.get(app.id)!.spec.pidNamespaceOf).toBeUndefined();
    const info = await pl.info(id);
    expect(info.tasks!.map((t) => [t.name, t.processConfig.status])).toEqual([
      ['app', 'running'],
      ['debug', 'running'],
    ]);
    expect(info.tasks![0]!.id).toBe(tasks.app);
  });

  it('signals tasks, stops a pod with STOPPED, and removes it', async () => {
    const { id, tasks } = await makePod(['a', 'b'], 'RUNNING');
    await pl.signal(tasks.a, 9);
    expect((await pl.info(tasks.a)).tasks![0].processConfig.exitCode).toBe(137);
    await expect(pl.signal(tasks.a, 15)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(pl.remove(id)).rejects.toMatchObject({ kind: 'Conflict' });
    await pl.commitHandle(await pl.setState(await pl.handle(id), 'STOPPED'), 3);
    expect(fake.calls.some((c) => /^stop \w+ \S* 3000$/.test(c))).toBe(true);
    expect((await pl.info(id)).containerConfig!.state).toBe('Stopped');
    await pl.remove(id);
    await expect(pl.info(id)).rejects.toMatchObject({ kind: 'NotFound' });
    expect(await pl.list(true)).toEqual([]);
  });

  it('serves a task log with since, tail, timestamps and the stream', async () => {
    const { tasks } = await makePod(['a'], 'RUNNING');
    const core = (await vch.listContainers({ all: true }))[0];
    await fake.output(core.id, STDOUT, 'one\n');
    await new Promise((r) => setTimeout(r, 5));
    const mid = BigInt(Date.now()) * 1_000_000n;
    await new Promise((r) => setTimeout(r, 5));
    await fake.output(core.id, STDERR, 'two\n');
    await fake.output(core.id, STDOUT, 'three\n');
    const read = async (o: Parameters<PortlayerClient['logs']>[1]) => {
      let text = '';
      for await (const c of await pl.logs(tasks.a, o)) text += c;
      return text;
    };
    expect(await read({})).toBe('one\ntwo\nthree\n');
    expect(await read({ tail: 2 })).toBe('two\nthree\n');
    expect(await read({ since: mid })).toBe('two\nthree\n');
    expect(await read({ stream: 'stderr' })).toBe('two\n');
    expect(await read({ tail: 1, timestamps: true })).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/,
    );
    // A follow ends when the task exits.
    const follow = await pl.logs(tasks.a, { follow: true, tail: 0 });
    const got = (async () => {
      let text = '';
      for await (const c of follow) text += c;
      return text;
    })();
    await new Promise((r) => setTimeout(r, 50));
    await fake.output(core.id, STDOUT, 'four\n');
    await new Promise((r) => setTimeout(r, 50));
    fake.exit(core.id, 0);
    expect(await got).toBe('four\n');
  });

  it('answers bad input with one clear error and the right status', async () => {
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ['POST', '/tasks', '{not json', 400, /malformed JSON/],
      ['POST', '/tasks', '{"handle":"x"}', 400, /needs "path"/],
      ['POST', '/tasks', '{"handle":"nope","path":"/x"}', 404, /no such handle/],
      ['PUT', '/containers/nope/state', '"PAUSED"', 400, /RUNNING/],
      ['GET', '/containers/abc/wait', undefined, 400, /timeout is required/],
      ['POST', `/containers/${'a'.repeat(64)}/signal?signal=99`, undefined, 400, /1 to 64/],
      ['GET', `/containers/info/${'a'.repeat(64)}`, undefined, 404, /no such container/],
      ['GET', '/containers/x/logs?since=yesterday', undefined, 400, /Unix seconds/],
      ['POST', '/storage/other/info/x', '{}', 404, /no image store/],
      ['POST', '/containers', '{"sysctls":{"kernel.panic":"1"}}', 400, /not namespaced/],
      ['POST', '/containers', '{"sysctls":{"net.ipv4.x":1}}', 400, /an object of strings/],
      ['POST', '/containers', '{"dns":["10.0.0.1"]}', 400, /dns must be an object/],
      ['POST', '/containers', '{"dns":{"nameservers":"10.0.0.1"}}', 400, /list of strings/],
      ['POST', '/containers', '{"dns":{"searches":["a b"]}}', 400, /invalid search domain "a b"/],
      ['POST', '/containers', '{"hostAliases":{}}', 400, /hostAliases must be a list/],
      ['POST', '/containers', '{"hostAliases":[{"hostnames":["x"]}]}', 400, /needs an ip/],
      ['POST', '/containers', '{"hostsHeader":"no hash"}', 400, /invalid hosts header/],
      ['POST', '/containers', '{"domainname":"a\\nb"}', 400, /invalid domain/],
      ['GET', '/nothing', undefined, 404, /no such route/],
      ['DELETE', '/_ping', undefined, 405, /not allowed/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await raw(method, path, body);
      expect([method, path, r.status]).toEqual([method, path, status]);
      expect(JSON.parse(r.body).message).toMatch(message);
    }
    // What a web page could send (CSRF): refused before anything is read or done.
    const form = await raw('POST', '/containers', '{}', { 'content-type': 'text/plain' });
    expect(form.status).toBe(415);
    expect(JSON.parse(form.body).message).toMatch(/Content-Type: application\/json/);
    const page = await raw('POST', '/containers', '{}', { origin: 'https://evil.example' });
    expect(page.status).toBe(403);
    expect(JSON.parse(page.body).message).toBe(
      'requests from a web browser are refused (Origin "https://evil.example")',
    );
    expect((await pl.list()).length).toBe(0);
    // Junk of every shape: always a 4xx with one line, never a 500, and the server goes on.
    const h = (await pl.createHandle({})).handle;
    const junk: [string, string, string | undefined][] = [
      ['POST', '/tasks', JSON.stringify({ handle: h, path: '/x', args: 'not a list' })],
      ['POST', '/tasks', JSON.stringify({ handle: h, path: 7 })],
      ['POST', '/tasks', JSON.stringify({ handle: h, path: '/x', id: 'short' })],
      ['POST', '/tasks', JSON.stringify({ handle: h, path: '/x', memoryLimitBytes: -1 })],
      ['POST', '/tasks', '[]'],
      ['POST', '/tasks', 'null'],
      ['POST', '/tasks/binding', JSON.stringify({ handle: h, id: 'f'.repeat(64) })],
      ['POST', '/logging', JSON.stringify({ handle: 42 })],
      ['POST', '/storage/default/info/x', JSON.stringify({ handle: h })],
      ['POST', '/containers', JSON.stringify({ annotations: { a: 1 } })],
      ['POST', '/containers?name=bad%20name', '{}'],
      ['POST', '/containers', JSON.stringify({ numCPUs: 'two' })],
      ['PUT', `/containers/${h}/state`, '{"state":"RUNNING"}'],
      ['PUT', `/containers/${h}?wait_time=soon`, undefined],
      ['GET', `/containers/${'a'.repeat(64)}/logs?taillines=-1`, undefined],
      ['GET', `/containers/${'a'.repeat(64)}/logs?stream=both`, undefined],
      ['GET', `/containers/${'a'.repeat(64)}/wait?timeout=x`, undefined],
      ['GET', '/containers/list?all=maybe', undefined],
      ['GET', '/containers/%E0%A4%A/wait?timeout=1', undefined],
      ['DELETE', `/containers/${'a'.repeat(64)}?force=1`, undefined],
      ['POST', '/scopes/default/containers', JSON.stringify({ handle: 'nope' })],
    ];
    for (const [method, path, body] of junk) {
      const r = await raw(method, path, body);
      expect([method, path, r.status >= 400 && r.status < 500]).toEqual([method, path, true]);
      expect(JSON.parse(r.body).message).toMatch(/^[^\n]+$/);
    }
    await pl.ping();

    const created = await pl.createHandle({});
    await expect(
      pl.addImageToHandle(created.handle, { deltaID: 'a', imageID: 'example.test/none:9' }),
    ).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(pl.createHandleTask(created.handle, { name: 'a', path: '/x' })).rejects.toThrow(
      /join an image as "a" first/,
    );
    // The task's seccomp extension, checked before anything else of the task.
    await expect(
      pl.createHandleTask(created.handle, { name: 'a', path: '/x', seccompProfile: 'Fly' }),
    ).rejects.toThrow(/"Fly" is not RuntimeDefault, Unconfined or Localhost/);
    await expect(
      pl.createHandleTask(created.handle, { name: 'a', path: '/x', seccompProfile: 'Localhost' }),
    ).rejects.toThrow(/Localhost needs seccompLocalhostProfile/);
  });

  it('serves under a path prefix, to share a listener with the persona', async () => {
    const shared = createServer(portlayerHandler(vch, { basePath: '/portlayer/' }));
    const path = join(dir, 'shared.sock');
    await new Promise<void>((r) => shared.listen(path, r));
    try {
      const prefixed = new PortlayerClient(`unix://${path}#/portlayer`);
      await prefixed.ping();
      expect((await prefixed.vchInfo()).maxPods).toBe(110);
      await expect(new PortlayerClient(`unix://${path}`).ping()).rejects.toMatchObject({
        kind: 'NotFound',
        message: expect.stringMatching(/not a portlayer path: \/_ping/),
      });
    } finally {
      await new Promise((r) => shared.close(r));
    }
  });

  it("has one network scope, the pod's own namespace, with no address", async () => {
    const created = await pl.createHandle({ name: 'net' });
    const r = await raw(
      'POST',
      '/scopes/default/containers',
      JSON.stringify({ handle: created.handle }),
    );
    expect(r.status).toBe(200);
    const h = JSON.parse(r.body) as string;
    await pl.commitHandle(h);
    const info = await pl.info(created.id);
    expect(info.endpoints).toMatchObject([
      { scope: 'default', address: '', container: created.id },
    ]);
    expect((await raw('GET', '/scopes')).body).toContain('"isolated"');
    expect((await raw('POST', '/scopes/other/containers', '{}')).status).toBe(404);
  });
});
