// The portlayer's stats routes over the VCH core (on a Runtime double), read through the VIC
// provider's own client and turned into the node's usage report: a pod's tasks by their
// portlayer ids, figures only while running, log bytes, the network; and one clear error for
// bad input (unknown id, missing or bad `stream`).
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newVicPod } from '../../providers/vic/cache/vic-pod.js';
import { nodeUsage } from '../../providers/vic/node-usage.js';
import { PortlayerClient } from '../../providers/vic/proxy/portlayer-client.js';
import { FakeRuntime, writeTestLayout } from '../../../test/support/fake-runtime.js';
import { Vch } from '../vch.js';
import { createPortlayerServer } from './server.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
let server: Server;
let pl: PortlayerClient;
let socket: string;
let imageId: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portlayer-stats-'));
  fake = new FakeRuntime();
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Entrypoint: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
  imageId = (await vch.inspectImage('example.test/app:1')).id;
  server = createPortlayerServer(vch);
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

/** A running pod of tasks `names`. */
async function makePod(names: string[]) {
  const created = await pl.createHandle({ name: 'default_web' });
  let h = created.handle;
  const tasks: Record<string, string> = {};
  for (const name of names) {
    h = await pl.addImageToHandle(h, { deltaID: name, imageID: imageId });
    const t = await pl.createHandleTask(h, { name, path: '/bin/app' });
    h = t.handle;
    tasks[name] = t.id;
  }
  await pl.commitHandle(await pl.setState(h, 'RUNNING'));
  return { id: created.id, tasks };
}

function get(path: string) {
  return new Promise<{ status: number; type?: string; body: string }>((resolve, reject) => {
    const req = request({ socketPath: socket, path }, (res) => {
      let text = '';
      const done = () =>
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body: text });
      res.on('data', (c: Buffer) => {
        text += c.toString();
        // A stream goes on; two lines are enough.
        if (text.split('\n').length > 2) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', () => done());
    });
    req.on('error', reject);
    req.end();
  });
}

describe('portlayer stats', () => {
  it('answers a pod’s tasks by their portlayer ids, with figures while they run', async () => {
    const { id, tasks } = await makePod(['a', 'b']);
    const core = (await vch.listContainers({ all: true })).find((c) => c.nameInPod === 'b')!;
    fake.exit(core.id, 0);
    await vch.waitContainer(core.id, 'not-running');
    const s = await pl.containerStats(id);
    expect(s.id).toBe(id);
    expect(s.network).toEqual(fake.interfaces);
    const byName = Object.fromEntries(s.tasks.map((t) => [t.name, t]));
    expect(byName.a).toMatchObject({
      id: tasks.a,
      status: 'running',
      cpu: fake.usage.cpu,
      memory: fake.usage.memory,
      processes: 2,
    });
    expect(byName.a.logs?.capacityBytes).toBeGreaterThan(0);
    expect(byName.b).toMatchObject({ id: tasks.b, status: 'exited' });
    expect(byName.b.cpu).toBeUndefined();
    // One task by its own id.
    expect((await pl.containerStats(tasks.a)).tasks.map((t) => t.name)).toEqual(['a']);
  });

  it('streams one JSON object per line with stream=true', async () => {
    const { id } = await makePod(['a']);
    const r = await get(`/containers/${id}/stats?stream=true`);
    expect(r.status).toBe(200);
    const lines = r.body.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines.slice(0, 2)) expect(JSON.parse(l)).toMatchObject({ id });
  }, 10_000);

  it('answers the host’s figures at /vch/stats', async () => {
    const h = await pl.vchStats();
    expect(h.cpu.usageNanoSeconds).toBeGreaterThan(0);
    expect(h.memory.workingSetBytes).toBeGreaterThan(0);
    expect(h.fs.capacityBytes).toBeGreaterThan(0);
    expect(Date.parse(h.bootTime)).toBeLessThan(Date.now());
  });

  it('refuses bad input with one line', async () => {
    const unknown = `/containers/${'0'.repeat(64)}/stats?stream=false`;
    expect(await get(unknown)).toMatchObject({
      status: 404,
      body: `{"code":404,"message":"no such container or task: ${'0'.repeat(64)}"}`,
    });
    const { id } = await makePod(['a']);
    const missing = await get(`/containers/${id}/stats`);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).message).toBe('stream is required: true or false');
    const bad = await get(`/containers/${id}/stats?stream=maybe`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/^invalid stream "maybe"/);
  });

  it('becomes the node’s usage report: containers by name, pods the VCH lost left out', async () => {
    const { id, tasks } = await makePod(['a']);
    const vp = newVicPod({
      metadata: { namespace: 'ns', name: 'web', uid: 'u1' },
      spec: { containers: [{ name: 'a', image: 'x' }] },
    });
    vp.id = id;
    vp.stage = 'created';
    vp.containers.get('a')!.taskId = tasks.a;
    const gone = newVicPod({
      metadata: { namespace: 'ns', name: 'gone', uid: 'u2' },
      spec: { containers: [{ name: 'a', image: 'x' }] },
    });
    gone.id = '1'.repeat(64);
    gone.stage = 'created';
    const u = await nodeUsage(pl, [vp, gone]);
    expect(u.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(u.pods).toHaveLength(1);
    expect(u.pods[0]).toMatchObject({
      namespace: 'ns',
      name: 'web',
      uid: 'u1',
      interfaces: fake.interfaces,
    });
    expect(u.pods[0].containers[0]).toMatchObject({
      name: 'a',
      cpu: { usageCoreNanoSeconds: 2e9 },
      memory: { workingSetBytes: 2 << 20 },
    });
  });
});
