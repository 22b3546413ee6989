// docker stats' API (GET /containers/{id}/stats) over the VCH core on a Runtime double: Docker's
// StatsJSON shape from the runtime's figures, precpu_stats from the reading before, and one
// clear error for bad input.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRuntime, writeTestLayout } from '../../../test/support/fake-runtime.js';
import { Vch } from '../vch.js';
import { createPersonaServer } from './server.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
let server: Server;
let base: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'persona-stats-'));
  fake = new FakeRuntime();
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
  server = createPersonaServer(vch, { tmpDir: join(dir, 'tmp') });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

async function running(name: string): Promise<string> {
  const c = await vch.createContainer({ name, image: 'example.test/app:1' });
  await vch.startContainer(c.id);
  return c.id;
}

describe('docker stats API', () => {
  it('answers StatsJSON with a previous reading when not streaming', async () => {
    const id = await running('web');
    const res = await fetch(`${base}/containers/web/stats?stream=false`);
    expect(res.status).toBe(200);
    const s = (await res.json()) as Record<string, Record<string, unknown>>;
    expect(s).toMatchObject({
      id,
      name: '/web',
      pids_stats: { current: 2 },
      cpu_stats: { cpu_usage: { total_usage: 2e9 } },
      precpu_stats: { cpu_usage: { total_usage: 2e9 } },
      memory_stats: {
        usage: 3 << 20,
        stats: { inactive_file: 1 << 20, anon: 1 << 20 },
      },
      networks: { eth0: { rx_bytes: 100, tx_bytes: 200 } },
    });
    expect(s.cpu_stats.online_cpus).toBeGreaterThan(0);
    expect(s.cpu_stats.system_cpu_usage as number).toBeGreaterThanOrEqual(
      s.precpu_stats.system_cpu_usage as number,
    );
    expect(s.preread).not.toBe('0001-01-01T00:00:00Z');
    // The host's memory is the limit of a container without one.
    expect(s.memory_stats.limit).toBeGreaterThan(0);
  });

  it('one-shot: a single reading, no previous one', async () => {
    await running('web');
    const s = (await (await fetch(`${base}/containers/web/stats?stream=0&one-shot=1`)).json()) as {
      preread: string;
      precpu_stats: { cpu_usage: { total_usage: number } };
    };
    expect(s.preread).toBe('0001-01-01T00:00:00Z');
    expect(s.precpu_stats.cpu_usage.total_usage).toBe(0);
  });

  it('a stopped container has no figures: zeros, as Docker answers', async () => {
    await vch.createContainer({ name: 'idle', image: 'example.test/app:1' });
    const s = (await (await fetch(`${base}/containers/idle/stats?stream=0&one-shot=1`)).json()) as {
      read: string;
      memory_stats: unknown;
      cpu_stats: { cpu_usage: { total_usage: number }; online_cpus: number };
    };
    expect(s.read).toBe('0001-01-01T00:00:00Z');
    expect(s.memory_stats).toEqual({});
    expect(s.cpu_stats.cpu_usage.total_usage).toBe(0);
  });

  it('refuses an unknown container in one line', async () => {
    const missing = await fetch(`${base}/containers/nope/stats?stream=0`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: 'No such container: nope' });
  });
});
