// The VCH's one listener: the persona at the root, the portlayer under /portlayer, upgrades
// (docker attach) to the persona, and closing it ends an attached client at once.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FakeRuntime, writeTestLayout } from '../../test/support/fake-runtime.js';
import { Vch } from './vch.js';
import { closeVchServer, createVchServer } from './vch-server.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
let server: Server;
let port: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vch-server-test-'));
  fake = new FakeRuntime();
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
  server = createVchServer(vch, { tmpDir: join(dir, 'tmp'), maxPods: 7 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterEach(async () => {
  await closeVchServer(server);
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

it('routes /portlayer to the portlayer and the rest to the persona', async () => {
  const base = `http://127.0.0.1:${port}`;
  const ping = await fetch(`${base}/_ping`);
  expect(ping.headers.get('api-version')).toMatch(/^1\.\d+$/);
  expect(await ping.text()).toBe('OK');
  const info = await fetch(`${base}/portlayer/vch/info`);
  expect(info.status).toBe(200);
  expect(((await info.json()) as { maxPods: number }).maxPods).toBe(7);
  expect(info.headers.get('api-version')).toBeNull();
  // A path that only starts like the portlayer's is the persona's (and unknown to it).
  const other = await fetch(`${base}/portlayerx/vch/info`);
  expect(other.status).toBe(404);
  expect(other.headers.get('api-version')).not.toBeNull();
});

it('hands upgrades to the persona, and closing ends the attached client', async () => {
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
  const c = await vch.createContainer({ image: 'example.test/app:1' });
  await vch.startContainer(c.id);
  const sock = connect(port, '127.0.0.1');
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString()));
  const closed = new Promise((r) => sock.once('close', r));
  sock.write(
    `POST /v1.43/containers/${c.id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\n` +
      'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
  );
  for (let i = 0; i < 50 && !got.includes('\r\n\r\n'); i++)
    await new Promise((r) => setTimeout(r, 20));
  expect(got).toMatch(/^HTTP\/1.1 101 UPGRADED\r\n/);
  await closeVchServer(server);
  await closed;
  expect(fake.containers.get(c.id)?.state.status).toBe('running');
});
