// The runc backend against Debian's real runc, with a busybox-static rootfs (no registry):
// sandboxes share hostname, loopback and IPC; output lands in the log as stream-tagged iolog
// entries; exit codes, stop with grace, restart, recovery by a new Runtime object.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryLog, readEntries, type LogEntry } from '../../src/iolog/index.js';
import { mergeProcessSpec } from '../../src/runtime/process-spec.js';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import type { ContainerSpec, Runtime } from '../../src/runtime/runtime.js';
import { isRuntimeError } from '../../src/runtime/errors.js';
import {
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { spawn } from 'node:child_process';

let tmp: string;
let stateDir: string;
let rootfs: string;
let tether: string;
const runtimes: Runtime[] = [];

const newId = () => randomBytes(32).toString('hex');

function runtime(): Runtime {
  const rt = createRuncRuntime({ stateDir, tetherPath: tether });
  runtimes.push(rt);
  return rt;
}

beforeAll(() => {
  tether = ensureTether();
  tmp = mkdtempSync(join(tmpdir(), 'runtime-runc-'));
  stateDir = join(tmp, 'state');
  rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
});

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

afterAll(() => {
  if (tmp) cleanupRuntimeDir(tmp, join(stateDir, 'runc'));
});

const spec = (id: string, script: string, extra: Partial<ContainerSpec> = {}) =>
  testContainerSpec(tmp, rootfs, id, ['sh', '-c', script], extra);

async function entries(path: string): Promise<LogEntry[]> {
  const got: LogEntry[] = [];
  for await (const e of readEntries(path)) got.push(e);
  return got;
}

const text = (es: LogEntry[], stream?: number) =>
  es
    .filter((e) => stream === undefined || e.stream === stream)
    .map((e) => e.message.toString())
    .join('');

async function sandbox(rt: Runtime, hostname = 'pod-a', shareProcessNamespace = false) {
  const id = newId();
  await rt.createSandbox({ id, hostname, shareProcessNamespace });
  return id;
}

async function runToExit(rt: Runtime, sb: string, s: ContainerSpec) {
  await rt.createContainer(sb, s);
  await rt.start(s.id);
  return rt.wait(s.id);
}

describe('runc runtime', () => {
  it('runs two containers of a pod in shared network, IPC and UTS namespaces', async () => {
    const rt = runtime();
    const sb = await sandbox(rt, 'shared-pod');
    // busybox nc -l may quit at EOF on its stdin before a connection comes: keep it open.
    const a = spec(
      newId(),
      'hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; echo from-a > /dev/shm/note; sleep 2 | nc -l -p 8080',
    );
    const b = spec(
      newId(),
      'hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; ' +
        'for i in $(seq 100); do [ -f /dev/shm/note ] && break; sleep 0.05; done; cat /dev/shm/note; ' +
        'for i in $(seq 100); do echo hello-over-loopback | nc 127.0.0.1 8080 && break; sleep 0.05; done',
    );
    await rt.createContainer(sb, a);
    await rt.createContainer(sb, b);
    await rt.start(a.id);
    await rt.start(b.id);
    const [sa, sbState] = await Promise.all([rt.wait(a.id), rt.wait(b.id)]);
    expect(sa.exitCode).toBe(0);
    expect(sbState.exitCode).toBe(0);
    const la = text(await entries(a.logPath), 0).split('\n');
    const lb = text(await entries(b.logPath), 0).split('\n');
    expect(la[0]).toBe('shared-pod');
    expect(lb[0]).toBe('shared-pod');
    expect(la[1]).toMatch(/^ipc:\[\d+\]$/);
    expect(lb[1]).toBe(la[1]); // the same IPC namespace
    expect(lb[2]).toBe(la[2]); // the same network namespace
    expect(lb[3]).toBe('from-a'); // the same /dev/shm
    expect(la).toContain('hello-over-loopback');
    // Not the host's namespaces.
    expect(readlinkSync('/proc/self/ns/ipc')).not.toBe(la[1]);
    expect(readlinkSync('/proc/self/ns/net')).not.toBe(la[2]);
    for (const c of [a, b]) await rt.remove(c.id);
    await rt.removeSandbox(sb);
  });

  it('writes stdout and stderr stream-tagged to the log; exit codes 0, 3 and 128+N', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const before = BigInt(Date.now()) * 1_000_000n;
    // Apart in time, so that their order across the two pipes is defined.
    const ok = spec(newId(), 'echo to-out; sleep 0.1; echo to-err >&2; sleep 0.1; echo more-out');
    const three = spec(newId(), 'exit 3');
    const sig = spec(newId(), 'kill -TERM $$');
    expect((await runToExit(rt, sb, ok)).exitCode).toBe(0);
    expect((await runToExit(rt, sb, three)).exitCode).toBe(3);
    const s = await runToExit(rt, sb, sig);
    expect(s.exitCode).toBe(143);
    expect(s.reason).toBeUndefined();
    const es = await entries(ok.logPath);
    expect(es.map((e) => [e.stream, e.message.toString()])).toEqual([
      [0, 'to-out\n'],
      [1, 'to-err\n'],
      [0, 'more-out\n'],
    ]);
    for (const e of es) expect(e.timestamp >= before).toBe(true);
    // And the query engine reads it as any other log.
    const out: string[] = [];
    for await (const c of queryLog(ok.logPath, { stream: 'stderr' }))
      out.push(Buffer.from(c.data).toString());
    expect(out.join('')).toBe('to-err\n');
    const st = await rt.state(ok.id);
    expect(st.status).toBe('exited');
    expect(st.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(st.finishedAt! >= st.startedAt!).toBe(true);
    for (const c of [ok, three, sig]) await rt.remove(c.id);
    await rt.removeSandbox(sb);
  });

  it('stop: TERM for a container that traps it; SIGKILL after the grace for one that ignores it', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const polite = spec(
      newId(),
      'trap "echo bye; exit 0" TERM; echo up; while true; do sleep 0.05; done',
    );
    const stubborn = spec(newId(), 'trap "" TERM; echo up; while true; do sleep 0.05; done');
    for (const c of [polite, stubborn]) {
      await rt.createContainer(sb, c);
      await rt.start(c.id);
      expect((await rt.state(c.id)).status).toBe('running');
      await waitForLog(c.logPath, 'up');
    }
    let t = Date.now();
    const s1 = await rt.stop(polite.id, { graceMs: 5000 });
    expect(Date.now() - t).toBeLessThan(3000);
    expect(s1).toMatchObject({ status: 'exited', exitCode: 0 });
    expect(text(await entries(polite.logPath))).toContain('bye\n');
    t = Date.now();
    const s2 = await rt.stop(stubborn.id, { graceMs: 1000 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(1000);
    expect(s2).toMatchObject({ status: 'exited', exitCode: 137, reason: 'Killed' });
    // Stopping what is not running is a no-op.
    expect((await rt.stop(stubborn.id)).exitCode).toBe(137);
    for (const c of [polite, stubborn]) await rt.remove(c.id);
    await rt.removeSandbox(sb);
  });

  it('kill sends a signal; SIGKILL reports 137 Killed; the container is not in our session', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const c = spec(newId(), 'trap "echo got-usr1" USR1; echo up; while true; do sleep 0.05; done');
    await rt.createContainer(sb, c);
    await rt.start(c.id);
    await waitForLog(c.logPath, 'up');
    const { pid } = await rt.state(c.id);
    // The container survives the VCH and its process group: a session and group of its own.
    const stat = (p: number | string) =>
      readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
    expect(stat(pid!)[3]).not.toBe(stat('self')[3]); // session
    expect(stat(pid!)[2]).not.toBe(stat('self')[2]); // process group
    await rt.kill(c.id, 'USR1');
    await waitForLog(c.logPath, 'got-usr1');
    await rt.kill(c.id, 'KILL');
    const s = await rt.wait(c.id);
    expect(s).toMatchObject({ status: 'exited', exitCode: 137, reason: 'Killed' });
    await expect(rt.kill(c.id, 'TERM')).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(rt.kill(c.id, 'NOSUCHSIG')).rejects.toMatchObject({ kind: 'InvalidInput' });
    await rt.remove(c.id);
    await rt.removeSandbox(sb);
  });

  it('restart of an exited container appends to the same log on the same rootfs', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const c = spec(newId(), 'echo run >> /count; wc -l < /count');
    await runToExit(rt, sb, c);
    const first = await rt.state(c.id);
    await rt.start(c.id);
    const second = await rt.wait(c.id);
    expect(second.exitCode).toBe(0);
    expect(second.startedAt! > first.startedAt!).toBe(true);
    expect(text(await entries(c.logPath), 0)).toBe('1\n2\n');
    // The image's rootfs is untouched: the writes went to the container's own layer.
    expect(existsSync(join(rootfs, 'count'))).toBe(false);
    await rt.remove(c.id);
    expect(existsSync(c.logPath)).toBe(true); // the VCH's log stays
    await rt.removeSandbox(sb);
  });

  it('a new Runtime over the same state dir recovers a running container and sees its exit', async () => {
    const rt1 = runtime();
    const sb = await sandbox(rt1);
    const c = spec(
      newId(),
      'echo before; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo after; exit 5',
    );
    await rt1.createContainer(sb, c);
    await rt1.start(c.id);
    await waitForLog(c.logPath, 'before');
    const pending = rt1.wait(c.id);
    await rt1.close();
    await expect(pending).rejects.toMatchObject({ kind: 'Unavailable' }); // not left hanging
    const rt2 = runtime();
    const found = await rt2.recover();
    expect(found.sandboxes).toContain(sb);
    expect(found.containers.find((x) => x.id === c.id)).toMatchObject({ status: 'running' });
    // Let it finish while only rt2 watches.
    const { pid } = await rt2.state(c.id);
    const root = `/proc/${pid}/root`;
    writeFileSync(`${root}/tmp/go`, ''); // through its init's view of its rootfs
    const s = await rt2.wait(c.id);
    expect(s).toMatchObject({ status: 'exited', exitCode: 5 });
    expect(text(await entries(c.logPath))).toBe('before\nafter\n');
    await rt2.remove(c.id);
    await rt2.removeSandbox(sb);
  });

  it('containers survive SIGKILL of the VCH process and its whole process group', async () => {
    // A stand-in VCH in a process group of its own, running the runtime from source.
    const sb = newId();
    const c = spec(newId(), 'while true; do echo tick; sleep 0.05; done');
    const script = join(tmp, 'vch.ts');
    writeFileSync(
      script,
      `import { createRuncRuntime } from ${JSON.stringify(join(projectRoot(), 'src/runtime/runc/index.ts'))};
const { stateDir, tether, sb, c } = JSON.parse(process.env.VCH_ARGS!);
const rt = createRuncRuntime({ stateDir, tetherPath: tether });
await rt.createSandbox({ id: sb, hostname: 'survivor' });
await rt.createContainer(sb, c);
await rt.start(c.id);
console.log('STARTED');
setInterval(() => {}, 1000);
`,
    );
    const vch = spawn(join(projectRoot(), 'node_modules/.bin/vite-node'), [script], {
      cwd: projectRoot(),
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, VCH_ARGS: JSON.stringify({ stateDir, tether, sb, c }) },
    });
    const exited = new Promise((r) => vch.on('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        vch.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('STARTED')) resolve();
        });
        vch.on('exit', (code) => reject(new Error(`stand-in VCH exited ${code}: ${out}`)));
      });
    } finally {
      process.kill(-vch.pid!, 'SIGKILL');
    }
    await exited;
    const before = (await entries(c.logPath)).length;
    await new Promise((r) => setTimeout(r, 500));
    expect((await entries(c.logPath)).length).toBeGreaterThan(before); // output still flows
    const rt = runtime();
    const found = await rt.recover();
    expect(found.containers.find((x) => x.id === c.id)).toMatchObject({ status: 'running' });
    expect((await rt.stop(c.id, { graceMs: 2000 })).exitCode).toBe(143);
    await rt.remove(c.id);
    await rt.removeSandbox(sb);
  });

  it('a container killed while no runtime watched is settled as Lost on recovery', async () => {
    const rt1 = runtime();
    const sb = await sandbox(rt1);
    const c = spec(newId(), 'echo up; while true; do sleep 0.05; done');
    await rt1.createContainer(sb, c);
    await rt1.start(c.id);
    await waitForLog(c.logPath, 'up');
    const { pid } = await rt1.state(c.id);
    await rt1.close();
    process.kill(pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const rt2 = runtime();
    const found = await rt2.recover();
    expect(found.containers.find((x) => x.id === c.id)).toMatchObject({
      status: 'exited',
      reason: 'Lost',
    });
    await rt2.remove(c.id);
    await rt2.removeSandbox(sb);
  });

  it('recovery removes what a create cut short by a crash left: directories without records', async () => {
    const c = newId();
    const sb = newId();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(stateDir, 'containers', c, 'rootfs'), { recursive: true });
    mkdirSync(join(stateDir, 'sandboxes', sb, 'shm'), { recursive: true });
    const rt = runtime();
    const found = await rt.recover();
    expect(found.sandboxes).not.toContain(sb);
    expect(existsSync(join(stateDir, 'containers', c))).toBe(false);
    expect(existsSync(join(stateDir, 'sandboxes', sb))).toBe(false);
  });

  it('runs as the merged user, in the merged working dir, with the merged env', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const process = mergeProcessSpec(
      {
        Cmd: [
          'sh',
          '-c',
          'id; pwd; echo "$FOO $BAR $HOME"; touch file && ls -ln file; ' +
            'ls /.vic; cat /proc/1/fd/4 2>/dev/null && echo reached || echo unreachable',
        ],
        Env: ['FOO=from-image', 'BAR=image-bar'],
        WorkingDir: '/work/dir',
        User: 'app',
      },
      { env: ['BAR=from-request'] },
    );
    const c = spec(newId(), '', { process });
    const s = await runToExit(rt, sb, c);
    expect(s.exitCode).toBe(0);
    const lines = text(await entries(c.logPath)).split('\n');
    // busybox's id lists the supplementary groups only (from /etc/group's members).
    expect(lines[0]).toBe('uid=1000(app) gid=1000(app) groups=50(staff)');
    expect(lines[1]).toBe('/work/dir');
    expect(lines[2]).toBe('from-image from-request /home/app');
    expect(lines[3]).toMatch(/ 1000 +1000 .* file$/);
    // The tether's status travels on an fd the process cannot reach; nothing of it is in /.vic.
    expect(lines[4]).toBe('tether');
    expect(lines[5]).toBe('unreachable');
    // A numeric uid:gid with no passwd entry runs as such.
    const n = spec(newId(), 'id -u; id -g', {
      process: { ...process, args: ['sh', '-c', 'id -u; id -g'], user: '4242:4343', cwd: '/' },
    });
    await runToExit(rt, sb, n);
    expect(text(await entries(n.logPath))).toBe('4242\n4343\n');
    for (const x of [c, n]) await rt.remove(x.id);
    await rt.removeSandbox(sb);
  });

  it('answers bad requests with typed errors and loses nothing', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    await expect(rt.start(newId())).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(rt.createContainer(newId(), spec(newId(), 'true'))).rejects.toMatchObject({
      kind: 'NotFound',
    });
    await expect(
      rt.createContainer(
        sb,
        spec(newId(), 'true', {
          process: { args: ['true'], env: [], cwd: '/', user: 'nosuchuser' },
        }),
      ),
    ).rejects.toMatchObject({ kind: 'InvalidInput', message: expect.stringMatching(/nosuchuser/) });
    await expect(rt.createContainer(sb, spec('not-an-id', 'true'))).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
    // The working dir would be under a file of the image: refused, and nothing stays behind.
    const fileCwd = spec(newId(), 'true', {
      process: { args: ['true'], env: [], cwd: '/etc/passwd/x', user: '' },
    });
    await expect(rt.createContainer(sb, fileCwd)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/working dir/),
    });
    expect(existsSync(join(stateDir, 'containers', fileCwd.id))).toBe(false);
    await expect(rt.state(fileCwd.id)).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(rt.createSandbox({ id: newId(), hostname: 'bad host!' })).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
    // A command that does not exist: start says why, the state and the log keep it.
    const missing = spec(newId(), '', {
      process: { args: ['no-such-program'], env: ['PATH=/bin'], cwd: '/', user: '' },
    });
    await rt.createContainer(sb, missing);
    const err = await rt.start(missing.id).catch((e: unknown) => e);
    expect(isRuntimeError(err, 'InvalidInput')).toBe(true);
    expect((err as Error).message).toMatch(/no-such-program/);
    expect(await rt.state(missing.id)).toMatchObject({ status: 'exited', exitCode: 127 });
    expect(text(await entries(missing.logPath), 1)).toMatch(/no-such-program/);
    // Running containers cannot be removed, nor their sandbox.
    const running = spec(newId(), 'while true; do sleep 0.05; done');
    await rt.createContainer(sb, running);
    await rt.start(running.id);
    await expect(rt.start(running.id)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(rt.remove(running.id)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(rt.removeSandbox(sb)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(rt.createContainer(sb, running)).rejects.toMatchObject({ kind: 'Conflict' });
    await rt.stop(running.id, { graceMs: 2000 });
    for (const x of [missing, running]) await rt.remove(x.id);
    await rt.removeSandbox(sb);
    await expect(rt.removeSandbox(sb)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('applies memory and CPU limits as cgroup settings and reports OOMKilled', async () => {
    const rt = runtime();
    const sb = await sandbox(rt);
    const c = spec(newId(), 'echo up; while true; do sleep 0.05; done', {
      memoryLimitBytes: 32 << 20,
      cpuMillis: 250,
    });
    await rt.createContainer(sb, c);
    await rt.start(c.id);
    await waitForLog(c.logPath, 'up');
    const cg = (ctl: string, file: string) =>
      readFileSync(`/sys/fs/cgroup/${ctl}/vic-kubelet/${c.id}/${file}`, 'utf8').trim();
    expect(cg('memory', 'memory.limit_in_bytes')).toBe(String(32 << 20));
    expect(cg('cpu', 'cpu.cfs_quota_us')).toBe('25000');
    expect(cg('cpu', 'cpu.cfs_period_us')).toBe('100000');
    await rt.stop(c.id, { graceMs: 2000 });
    // tail keeps a newline-free "line" of /dev/zero in memory until the limit kills it.
    const hog = spec(newId(), 'head -c 200000000 /dev/zero | tail', { memoryLimitBytes: 16 << 20 });
    const s = await runToExit(rt, sb, hog);
    expect(s).toMatchObject({ status: 'exited', reason: 'OOMKilled' });
    expect(s.exitCode).not.toBe(0);
    for (const x of [c, hog]) await rt.remove(x.id);
    await rt.removeSandbox(sb);
  });

  it('copies the image rootfs when overlayfs cannot take it, and never writes to the image', async () => {
    // overlayfs options cannot carry a ':' in a path: such an image rootfs is copied.
    const odd = join(tmp, 'odd:rootfs');
    await import('node:fs/promises').then((fs) =>
      fs.cp(rootfs, odd, { recursive: true, verbatimSymlinks: true }),
    );
    const rt = runtime();
    const sb = await sandbox(rt);
    const c = spec(newId(), 'echo changed > /etc/motd; cat /etc/motd; ls /bin/busybox', {
      imageRootfs: odd,
    });
    expect((await runToExit(rt, sb, c)).exitCode).toBe(0);
    expect(text(await entries(c.logPath))).toBe('changed\n/bin/busybox\n');
    expect(existsSync(join(odd, 'etc/motd'))).toBe(false);
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(
      `/containers/${c.id}/rootfs `,
    );
    expect(mounted).toBe(false); // a copy, not an overlay
    await rt.remove(c.id);
    expect(existsSync(join(stateDir, 'containers', c.id))).toBe(false);
    await rt.removeSandbox(sb);
  });

  it('a sandbox that cannot start leaves nothing behind (no tether: Unavailable)', async () => {
    const rt = createRuncRuntime({ stateDir, tetherPath: join(tmp, 'no-such-tether') });
    runtimes.push(rt);
    const id = newId();
    await expect(rt.createSandbox({ id, hostname: 'x' })).rejects.toMatchObject({
      kind: 'Unavailable',
      message: expect.stringMatching(/tether/),
    });
    expect(existsSync(join(stateDir, 'sandboxes', id))).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(id);
    await expect(rt.removeSandbox(id)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('a sandbox whose runc create fails leaves nothing behind either', async () => {
    // A tether that exists but is no executable: runc create fails at exec time.
    const bad = join(tmp, 'bad-tether');
    writeFileSync(bad, 'not an executable', { mode: 0o755 });
    const rt = createRuncRuntime({ stateDir, tetherPath: bad });
    runtimes.push(rt);
    const id = newId();
    const err = await rt.createSandbox({ id, hostname: 'x' }).catch((e: unknown) => e);
    expect(isRuntimeError(err, 'Unavailable')).toBe(true);
    expect(existsSync(join(stateDir, 'sandboxes', id))).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(id);
  });

  it('shares one PID namespace with shareProcessNamespace', async () => {
    const rt = runtime();
    const sb = await sandbox(rt, 'pid-pod', true);
    const a = spec(newId(), 'echo a-up; while true; do sleep 0.05; done');
    const b = spec(
      newId(),
      'ps -o comm | sort | uniq -c | grep -c tether; cat /proc/1/cmdline | tr "\\0" " "',
    );
    await rt.createContainer(sb, a);
    await rt.start(a.id);
    await waitForLog(a.logPath, 'a-up');
    await runToExit(rt, sb, b);
    const lines = text(await entries(b.logPath)).split('\n');
    expect(lines[1]).toMatch(/^\/\.vic\/tether --pause/); // the pause process is PID 1 of the pod
    const s = await rt.stop(a.id, { graceMs: 2000 });
    expect(s.exitCode).toBe(143);
    for (const x of [a, b]) await rt.remove(x.id);
    await rt.removeSandbox(sb);
  });
});

async function waitForLog(path: string, needle: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (existsSync(path) && text(await entries(path)).includes(needle)) return;
    if (Date.now() > until) throw new Error(`no "${needle}" in ${path} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
