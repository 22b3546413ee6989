// Port-forward into a pod VM (Runtime.portForward on the vm backend): the agent's connections
// inside the guest over the VM's data port, against busybox nc servers in a real pod VM. Many
// connections at once intact, a half-close passed on with the other way still open, a refused
// connection's reason, and bad requests refused with the right kind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/runtime/errors.js';
import type { ContainerSpec, Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import { busyboxRootfs, cleanupRuntimeDir, testContainerSpec } from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

const newId = () => randomBytes(32).toString('hex');
// 9000: echoes each connection; 9001: counts what came until the client's half-close, then
// answers with the count on the same connection.
const SERVERS = [
  'nc -ll -p 9000 -e cat &',
  `nc -ll -p 9001 -e sh -c 'echo "got $(wc -c)"' &`,
  'exec sleep 1000',
].join(' ');

/** Sends data, half-closes, and resolves with everything read until the other side's end. */
function roundTrip(conn: Duplex, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    conn.on('data', (d: Buffer) => chunks.push(d));
    conn.on('end', () => resolve(Buffer.concat(chunks)));
    conn.on('error', reject);
    conn.end(data);
  });
}

describe('port-forward into a pod VM', () => {
  let tmp: string;
  let rt: Runtime;
  let sandbox: string;
  let server: ContainerSpec;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'runtime-vm-pf-'));
    const rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
    ensureAgent();
    rt = createVmRuntime({ stateDir: join(tmp, 'state') });
    sandbox = newId();
    await rt.createSandbox({ id: sandbox, hostname: 'pod-pf' });
    server = testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', SERVERS]);
    await rt.createContainer(sandbox, server);
    await rt.start(server.id);
    // Until the servers listen.
    for (let i = 0; ; i++) {
      const r = await rt.exec(server.id, {
        args: ['sh', '-c', 'netstat -ltn | grep -c ":900[01] "'],
      });
      if (r.stdout.toString().trim() === '2') break;
      if (i > 100) throw new Error(`the servers do not listen: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }, 180_000);

  afterAll(async () => {
    if (!tmp) return;
    await rt?.stop(server.id, { graceMs: 0 }).catch(() => undefined);
    await rt?.close();
    killQemus(tmp);
    waitNoQemu(tmp);
    cleanupRuntimeDir(tmp, join(tmp, 'state', 'runc'));
  });

  it('carries 12 connections at once intact (1 MiB each way each)', async () => {
    // Busybox's `nc -ll` resets connections that queue while it hands the one it accepted to
    // its child, so the connections are opened one after the other (each answers a first byte
    // before the next is made); the data then flows on all 12 at once.
    const inputs = Array.from({ length: 12 }, () => randomBytes(1 << 20));
    const conns: { conn: Duplex; first: Buffer }[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const conn = await rt.portForward!(sandbox, 9000);
      const first = await new Promise<Buffer>((resolve, reject) => {
        conn.once('data', resolve);
        conn.once('error', reject);
        conn.write(Buffer.from([i]));
      });
      conns.push({ conn, first });
    }
    const outs = await Promise.all(
      conns.map(async ({ conn, first }, i) =>
        Buffer.concat([first, await roundTrip(conn, inputs[i]!)]),
      ),
    );
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(outs.map(sha)).toEqual(inputs.map((b, i) => sha(Buffer.concat([Buffer.from([i]), b]))));
  }, 180_000);

  it('passes a half-close on and keeps the other way open', async () => {
    const conn = await rt.portForward!(sandbox, 9001);
    const answer = await roundTrip(conn, randomBytes(300_000));
    expect(answer.toString()).toBe('got 300000\n');
  }, 60_000);

  it("refuses a port where nothing listens with the agent's reason", async () => {
    const e = await rt.portForward!(sandbox, 9999).catch((err: Error) => err);
    expect(isRuntimeError(e, 'Unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/failed to connect to localhost:9999 inside the pod/);
    expect((e as Error).message).toMatch(/refused/i);
  }, 30_000);

  it('refuses a bad port and an unknown sandbox', async () => {
    for (const port of [0, 65536, 1.5]) {
      const e = await rt.portForward!(sandbox, port).catch((err: Error) => err);
      expect(isRuntimeError(e, 'InvalidInput'), String(port)).toBe(true);
    }
    const e = await rt.portForward!(newId(), 9000).catch((err: Error) => err);
    expect(isRuntimeError(e, 'NotFound')).toBe(true);
  });

  it('a connection cut short by the client leaves the others working', async () => {
    const cut = await rt.portForward!(sandbox, 9000);
    cut.write(randomBytes(1 << 20));
    cut.destroy();
    const data = randomBytes(100_000);
    const conn = await rt.portForward!(sandbox, 9000);
    expect((await roundTrip(conn, data)).equals(data)).toBe(true);
  }, 60_000);
});
