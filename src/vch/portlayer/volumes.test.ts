// The portlayer's /storage/volumes over the VCH core (on a Runtime double): CreateVolume,
// VolumeJoin on a handle reaching the container at commit, WriteVolumeFiles, GetVolume's
// usage, RemoveVolume refused while a pod has it, ephemeral volumes removed with their pod,
// and one clear 400 for bad input.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
  dir = mkdtempSync(join(tmpdir(), 'portlayer-volumes-'));
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

function call(method: string, path: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  // The answers' shapes are what the tests check (toMatchObject), so they are taken as they come.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const headers =
      text === undefined
        ? {}
        : { 'content-length': Buffer.byteLength(text), 'content-type': 'application/json' };
    const req = request({ socketPath: socket, method, path, headers }, async (res) => {
      let t = '';
      for await (const c of res) t += c;
      resolve({ status: res.statusCode!, json: t ? JSON.parse(t) : undefined });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const create = (Name: string, DriverArgs: Record<string, string> = {}, Driver = 'local') =>
  call('POST', '/storage/volumes', { Name, Store: 'default', Driver, Capacity: -1, DriverArgs });

describe('portlayer volumes', () => {
  it('creates, lists, gets and removes a volume; duplicates and bad names are refused', async () => {
    expect(await create('v1', { medium: 'disk' })).toMatchObject({
      status: 201,
      json: { Name: 'v1', Label: 'v1', Store: 'default', Driver: 'local' },
    });
    expect((await create('v1')).status).toBe(409);
    expect(await create('../x')).toMatchObject({
      status: 400,
      json: { message: expect.stringMatching(/volume name/) },
    });
    expect((await create('x', {}, 'nfs')).status).toBe(400);
    expect(
      (await call('GET', '/storage/volumes')).json.map((v: { Name: string }) => v.Name),
    ).toEqual(['v1']);
    expect(await call('GET', '/storage/volumes/v1')).toMatchObject({
      status: 200,
      json: { usageBytes: 0 },
    });
    expect((await call('DELETE', '/storage/volumes/v1')).status).toBe(200);
    expect((await call('GET', '/storage/volumes/v1')).status).toBe(404);
    expect((await call('DELETE', '/storage/volumes/v1')).status).toBe(404);
  });

  it('joins volumes to a task on the handle; the container gets them at commit', async () => {
    await create('cfg', { pod: 'will-be-set', ephemeral: 'false' });
    await create('scratch');
    const created = await pl.createHandle({ name: 'default_web' });
    let h = await pl.addImageToHandle(created.handle, { deltaID: 'app', imageID: imageId });
    h = (await pl.createHandleTask(h, { name: 'app', path: '/bin/app' })).handle;
    const join1 = await call('POST', '/storage/volumes/cfg', {
      Handle: h,
      MountPath: '/etc/cfg',
      Flags: { readOnly: 'true' },
    });
    expect(join1.status).toBe(200);
    const join2 = await call('POST', '/storage/volumes/scratch', {
      Handle: join1.json.handle,
      MountPath: '/data',
      Flags: { task: 'app', subPath: 'sub' },
    });
    // Bad joins: no such task, a climbing subPath, a relative path, an unknown flag, no volume.
    for (const [name, body, status] of [
      ['cfg', { Handle: h, MountPath: '/x', Flags: { task: 'nope' } }, 400],
      ['cfg', { Handle: h, MountPath: '/x', Flags: { subPath: '../..' } }, 400],
      ['cfg', { Handle: h, MountPath: 'x', Flags: {} }, 400],
      ['cfg', { Handle: h, MountPath: '/x', Flags: { propagation: 'rshared' } }, 400],
      ['missing', { Handle: h, MountPath: '/x', Flags: {} }, 404],
    ] as const)
      expect(
        (await call('POST', `/storage/volumes/${name}`, body)).status,
        JSON.stringify(body),
      ).toBe(status);
    await pl.commitHandle(join2.json.handle);
    const [c] = [...fake.containers.values()];
    const cfgPath = join(dir, 'state', 'volumes', 'cfg', '_data');
    expect(c.spec.mounts).toEqual([
      { source: cfgPath, destination: '/etc/cfg', readOnly: true },
      {
        source: join(dir, 'state', 'volumes', 'scratch', '_data'),
        destination: '/data',
        subPath: 'sub',
      },
    ]);
    // In use now: 409 until the pod is removed.
    expect(await call('DELETE', '/storage/volumes/cfg')).toMatchObject({
      status: 409,
      json: { message: expect.stringMatching(/^volume is in use/) },
    });
    await pl.remove(created.id, true);
    expect((await call('DELETE', '/storage/volumes/cfg')).status).toBe(200);
  });

  it('writes files atomically; bad files are refused with 400 and change nothing', async () => {
    await create('secret', {});
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const put = (body: unknown) => call('PUT', '/storage/volumes/secret/files', body);
    expect((await put({ files: [{ path: 'token', data: b64('t1'), mode: 0o600 }] })).status).toBe(
      204,
    );
    const root = join(dir, 'state', 'volumes', 'secret', '_data');
    expect(readFileSync(join(root, 'token'), 'utf8')).toBe('t1');
    for (const files of [
      [{ path: '../x', data: b64('x'), mode: 0o644 }],
      [{ path: '/abs', data: b64('x'), mode: 0o644 }],
      [{ path: 'ok', data: b64('x'), mode: 0o1777 }],
      [{ path: 'ok', data: '***', mode: 0o644 }],
      [{ path: 'ok' }],
    ])
      expect((await put({ files })).status, JSON.stringify(files)).toBe(400);
    expect((await put({})).status).toBe(400);
    expect(readFileSync(join(root, 'token'), 'utf8')).toBe('t1');
    // A file's own uid (a token's FsUser) over the request's owner.
    const owned = [
      { path: 'token', data: b64('t2'), mode: 0o600, uid: 4321 },
      { path: 'ca.crt', data: b64('pem'), mode: 0o644 },
    ];
    expect((await put({ files: owned, uid: 1000, gid: 3000 })).status).toBe(204);
    expect(statSync(join(root, 'token'))).toMatchObject({ uid: 4321, gid: 3000, mode: 0o100600 });
    expect(statSync(join(root, 'ca.crt'))).toMatchObject({ uid: 1000, gid: 3000 });
    for (const uid of [-1, 1.5, 'root', 2 ** 32])
      expect((await put({ files: [{ ...owned[0], uid }] })).status, String(uid)).toBe(400);
    expect(readFileSync(join(root, 'token'), 'utf8')).toBe('t2');
    expect((await call('PUT', '/storage/volumes/nope/files', { files: [] })).status).toBe(404);
    expect((await call('GET', '/storage/volumes/secret')).json.usageBytes).toBeGreaterThan(0);
  });

  it('removes a pod’s ephemeral volumes with the pod', async () => {
    const created = await pl.createHandle({ name: 'default_eph' });
    await create('eph', { pod: created.id, ephemeral: 'true' });
    await create('keep', { pod: created.id });
    let h = await pl.addImageToHandle(created.handle, { deltaID: 'app', imageID: imageId });
    h = (await pl.createHandleTask(h, { name: 'app', path: '/bin/app' })).handle;
    h = (await call('POST', '/storage/volumes/eph', { Handle: h, MountPath: '/e', Flags: {} })).json
      .handle;
    await pl.commitHandle(h);
    await pl.remove(created.id, true);
    const names = (await call('GET', '/storage/volumes')).json.map((v: { Name: string }) => v.Name);
    expect(names).toEqual(['keep']);
  });
});
