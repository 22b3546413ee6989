// Exec in a running container, on both backends against the real parts (Debian's runc; qemu
// with the project's guest and agent), with a busybox-static rootfs: the container's user, env,
// working dir, root, PID namespace and cgroup; user override; exit codes; stdout and stderr
// apart; a timeout that kills; the output cap; and the errors of a wrong request.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/runtime/errors.js';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import { EXEC_OUTPUT_LIMIT, type ContainerSpec, type Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import {
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

const newId = () => randomBytes(32).toString('hex');

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isRuntimeError(e) ? e.kind : `untyped: ${(e as Error).message}`;
  }
}

describe.each(['runc', 'vm'] as const)('exec on %s', (backend) => {
  let tmp: string;
  let rt: Runtime;
  let sb: string;
  let running: ContainerSpec;
  let rootfs: string;

  const spec = (script: string, extra: Partial<ContainerSpec['process']> = {}): ContainerSpec => {
    const s = testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', script]);
    return { ...s, process: { ...s.process, ...extra } };
  };
  const sh = (script: string) => ['sh', '-c', script];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), `runtime-exec-${backend}-`));
    rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
    const stateDir = join(tmp, 'state');
    if (backend === 'runc') {
      rt = createRuncRuntime({ stateDir, tetherPath: ensureTether() });
    } else {
      ensureAgent();
      rt = createVmRuntime({ stateDir });
    }
    sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'pod-exec' });
    running = spec('echo ready > /tmp/marker; exec sleep 1000', {
      user: 'app',
      env: ['PATH=/bin', 'FOO=from-container'],
      cwd: '/tmp',
    });
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

  it("runs as the container's user, with its env (plus the exec's), working dir, root, PIDs and cgroup", async () => {
    const r = await rt.exec(running.id, {
      args: sh(
        'id -u; id -G; echo $FOO $BAR $HOME; pwd; cat /tmp/marker; pidof sleep; readlink /proc/self >/dev/null && echo in-pid-ns; cat /proc/self/cgroup',
      ),
      env: ['BAR=from-exec', 'FOO=overridden-later'],
    });
    expect(r.exitCode).toBe(0);
    expect(r.timedOut).toBe(false);
    expect(r.stderr.toString()).toBe('');
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      '1000',
      '1000 50',
      'overridden-later from-exec /home/app',
      '/tmp',
      'ready',
    ]);
    expect(lines[5]).toMatch(/^\d+$/); // the container's sleep: its PID namespace
    expect(lines[6]).toBe('in-pid-ns'); // its /proc knows the exec's own process
    expect(lines.slice(7).join('\n')).toContain(running.id); // its cgroup
  });

  it.runIf(backend === 'runc')(
    "is run by the container's tether, with the container's bounding set, seccomp and no_new_privs",
    async () => {
      // Not a runc exec: the tether (PID 1 of the container's PID namespace) is its parent.
      const r = await rt.exec(running.id, {
        args: sh(
          'echo $PPID; s=$(pidof sleep); for f in /proc/self/status /proc/$s/status; do grep -E "^(CapBnd|Seccomp|NoNewPrivs):" $f | tr -s "\t " " " | tr "\n" " "; echo; done',
        ),
        user: 'root',
      });
      const [ppid, own, app] = r.stdout
        .toString()
        .split('\n')
        .map((l) => l.trim());
      expect(ppid).toBe('1');
      expect(own).toMatch(/CapBnd: [0-9a-f]+ .*Seccomp: 2/);
      expect(own).toBe(app);
      // A container started before the tether took execs has no socket: runc exec runs them.
      const socket = join(tmp, 'state', 'containers', running.id, 'exec.sock');
      renameSync(socket, `${socket}.away`);
      try {
        const byRunc = await rt.exec(running.id, { args: sh('echo $PPID') });
        expect(byRunc.stdout.toString()).toBe('0\n');
      } finally {
        renameSync(`${socket}.away`, socket);
      }
    },
  );

  it('runs as another user, in another working dir, when asked; an unknown user is InvalidInput', async () => {
    const root = await rt.exec(running.id, { args: sh('id -u; pwd'), user: 'root', cwd: '/' });
    expect(root.stdout.toString()).toBe('0\n/\n');
    const nobody = await rt.exec(running.id, { args: sh('id -u; id -g'), user: 'nobody:staff' });
    expect(nobody.stdout.toString()).toBe('65534\n50\n');
    const numeric = await rt.exec(running.id, { args: ['id', '-u'], user: '4242' });
    expect(numeric.stdout.toString()).toBe('4242\n');
    expect(await kindOf(rt.exec(running.id, { args: ['true'], user: 'nosuchuser' }))).toBe(
      'InvalidInput',
    );
  });

  it('reports the exit code, keeps stderr apart, and 127 for a program that is not there', async () => {
    const r = await rt.exec(running.id, { args: sh('echo out; echo err >&2; exit 3') });
    expect(r.exitCode).toBe(3);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    const missing = await rt.exec(running.id, { args: ['/bin/no-such-program'] });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr.toString()).toMatch(/no-such-program/);
    const killed = await rt.exec(running.id, { args: sh('kill -TERM $$') });
    expect(killed.exitCode).toBe(143);
  });

  it('kills an exec that outlives its timeout and says so', async () => {
    const t0 = Date.now();
    const r = await rt.exec(running.id, { args: ['sleep', '60'] }, { timeoutMs: 1000 });
    const took = Date.now() - t0;
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(2000);
    // The sleep is gone from the container.
    const left = await rt.exec(running.id, { args: sh('pidof sleep') });
    expect(left.stdout.toString().trim().split(' ')).toHaveLength(1);
  });

  it('keeps the first MiB of each stream and says it cut the rest', async () => {
    const r = await rt.exec(running.id, {
      args: sh('head -c 1500000 /dev/zero | tr "\\0" x; echo short >&2'),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(EXEC_OUTPUT_LIMIT);
    expect(r.stdout.subarray(0, 4).toString()).toBe('xxxx');
    expect(r.truncated).toEqual({ stdout: true, stderr: false });
    expect(r.stderr.toString()).toBe('short\n');
    const small = await rt.exec(
      running.id,
      { args: sh('echo 0123456789') },
      { outputLimitBytes: 4 },
    );
    expect(small.stdout.toString()).toBe('0123');
    expect(small.truncated.stdout).toBe(true);
  });

  it('runs execs side by side', async () => {
    const rs = await Promise.all(
      [1, 2, 3, 4].map((n) => rt.exec(running.id, { args: sh(`sleep 0.2; echo ${n}; exit ${n}`) })),
    );
    expect(rs.map((r) => [r.exitCode, r.stdout.toString()])).toEqual([
      [1, '1\n'],
      [2, '2\n'],
      [3, '3\n'],
      [4, '4\n'],
    ]);
  });

  it("runs in a pod that shares one PID namespace: it sees the other containers' processes", async () => {
    const shared = newId();
    await rt.createSandbox({ id: shared, hostname: 'pod-shared', shareProcessNamespace: true });
    const a = spec('exec sleep 1001');
    const b = spec('exec sleep 1002');
    for (const c of [a, b]) {
      await rt.createContainer(shared, c);
      await rt.start(c.id);
    }
    const r = await rt.exec(a.id, { args: sh('ps -o args | grep "^sleep 100"') });
    expect(r.stdout.toString().split('\n').filter(Boolean).sort()).toEqual([
      'sleep 1001',
      'sleep 1002',
    ]);
    for (const c of [a, b]) {
      await rt.stop(c.id, { graceMs: 0 });
      await rt.remove(c.id);
    }
    await rt.removeSandbox(shared);
  });

  it('refuses a wrong request with a typed error: exited container, no such one, no command', async () => {
    const done = spec('exit 0');
    await rt.createContainer(sb, done);
    expect(await kindOf(rt.exec(done.id, { args: ['true'] }))).toBe('Conflict');
    await rt.start(done.id);
    await rt.wait(done.id);
    expect(await kindOf(rt.exec(done.id, { args: ['true'] }))).toBe('Conflict');
    await rt.remove(done.id);
    expect(await kindOf(rt.exec(newId(), { args: ['true'] }))).toBe('NotFound');
    expect(await kindOf(rt.exec(running.id, { args: [] }))).toBe('InvalidInput');
    expect(await kindOf(rt.exec(running.id, { args: ['true'], cwd: 'tmp' }))).toBe('InvalidInput');
    // The container still runs, untouched by all that.
    expect((await rt.state(running.id)).status).toBe('running');
  });
});
