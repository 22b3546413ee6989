// Streaming exec (Runtime.execStream) against Debian's runc with a busybox rootfs: input
// piped through, a terminal (the tether's console relay) with its size and resizes, exit codes,
// kill, many at once; the same on a pod VM (the agent's data port).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import type { ContainerSpec, ExecStream, Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import {
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

const newId = () => randomBytes(32).toString('hex');
const sh = (script: string) => ['sh', '-c', script];

async function text(r: Readable | undefined): Promise<string> {
  if (!r) return '';
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads the terminal's output until `want` appears in it; the text so far. */
function until(r: Readable, want: RegExp, ms = 10_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${want} in ${JSON.stringify(seen)}`)), ms);
    const on = (b: Buffer) => {
      seen += b.toString('utf8');
      if (!want.test(seen)) return;
      clearTimeout(t);
      r.off('data', on);
      r.pause();
      resolve(seen);
    };
    r.on('data', on);
    r.resume();
  });
}

describe.each(['runc', 'vm'] as const)('streaming exec on %s', (backend) => {
  let tmp: string;
  let rt: Runtime;
  let running: ContainerSpec;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), `runtime-exec-stream-${backend}-`));
    const rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
    const stateDir = join(tmp, 'state');
    if (backend === 'runc') rt = createRuncRuntime({ stateDir, tetherPath: ensureTether() });
    else {
      ensureAgent();
      rt = createVmRuntime({ stateDir });
    }
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'pod-stream' });
    running = testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', 'exec sleep 1000']);
    await rt.createContainer(sb, running);
    await rt.start(running.id);
  }, 120_000);

  afterAll(async () => {
    if (!tmp) return;
    await rt?.stop(running.id, { graceMs: 0 }).catch(() => undefined);
    await rt?.close();
    if (backend === 'vm') {
      killQemus(tmp);
      waitNoQemu(tmp);
    }
    cleanupRuntimeDir(tmp, join(tmp, 'state', 'runc'));
  });

  it('streams stdout and stderr apart and ends with the exit code', async () => {
    const x = await rt.execStream(running.id, { args: sh('echo out; echo err >&2; exit 7') }, {});
    const [out, err, code] = await Promise.all([text(x.stdout), text(x.stderr), x.exit]);
    expect({ out, err, code }).toEqual({ out: 'out\n', err: 'err\n', code: 7 });
  });

  it('streams more than the captured exec keeps (4 MiB)', async () => {
    const x = await rt.execStream(running.id, { args: sh('head -c 4194304 /dev/zero') }, {});
    const [out, code] = await Promise.all([text(x.stdout), x.exit, text(x.stderr)]);
    expect(out.length).toBe(4 << 20);
    expect(code).toBe(0);
  });

  it('pipes stdin through (8 MiB, checksum) and closes it at the end', async () => {
    const data = randomBytes(8 << 20);
    const x = await rt.execStream(running.id, { args: ['sha256sum'] }, { stdin: true });
    x.stdin!.end(data);
    const [out, code] = await Promise.all([text(x.stdout), x.exit, text(x.stderr)]);
    expect(out.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    expect(code).toBe(0);
  });

  it('gives a terminal of the asked size, resizes it, and takes typed input', async () => {
    const x: ExecStream = await rt.execStream(
      running.id,
      { args: ['sh'] },
      { stdin: true, tty: true, size: { width: 91, height: 33 } },
    );
    expect(x.stderr).toBeUndefined();
    x.stdin!.write('[ -t 0 ] && echo IS-A-TTY; stty size\n');
    const first = await until(x.stdout, /33 91/);
    expect(first).toContain('IS-A-TTY');
    x.resize({ width: 120, height: 40 });
    await new Promise((r) => setTimeout(r, 100));
    x.stdin!.write('stty size\n');
    await until(x.stdout, /40 120/);
    x.stdin!.write('exit 3\n');
    x.stdout.resume();
    expect(await x.exit).toBe(3);
  });

  it('kill ends a running exec (137)', async () => {
    const x = await rt.execStream(running.id, { args: ['sleep', '100'] }, { tty: true });
    x.stdout.resume();
    setTimeout(() => x.kill(), 200);
    expect(await x.exit).toBe(137);
  });

  it('runs many at once', async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        rt.execStream(
          running.id,
          { args: sh(`cat; exit ${i}`) },
          { stdin: true, tty: i % 2 === 1 },
        ),
      ),
    );
    runs.forEach((x, i) => x.stdin!.end(`hello ${i}\n`));
    // A terminal gets no EOF from an ended stdin: those wait for a kill.
    const outs = await Promise.all(
      runs.map(async (x, i) => {
        if (i % 2 === 1) {
          const seen = await until(x.stdout, new RegExp(`hello ${i}`));
          x.kill();
          x.stdout.resume();
          return [seen.includes(`hello ${i}`), await x.exit];
        }
        const [out, code] = await Promise.all([text(x.stdout), x.exit, text(x.stderr)]);
        return [out === `hello ${i}\n`, code];
      }),
    );
    expect(outs).toEqual(runs.map((_, i) => [true, i % 2 === 1 ? 137 : i]));
  });

  it('an unknown program exits 127 with the reason', async () => {
    const x = await rt.execStream(running.id, { args: ['no-such-program'] }, {});
    const [err, code] = await Promise.all([text(x.stderr), x.exit, text(x.stdout)]);
    expect(code).toBe(127);
    expect(err).toMatch(/no-such-program/);
  });
});
