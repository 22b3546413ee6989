// The vm backend against real qemu (TCG here; KVM where usable), the guest built from Debian's
// kernel package and the project's agent, with a busybox-static rootfs (no registry): two
// containers in one VM with the guest's own kernel and hostname, PID namespaces apart or shared,
// stdout/stderr apart in output.log and readable with --since, exit codes, exec failure,
// restart, stop with grace, re-attach by a new Runtime object, power-off leaving no qemu, and a
// VM killed from outside. Two VMs at a time at most, one vCPU each: the machine is shared.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryLog, readEntries, type LogEntry } from '../../src/iolog/index.js';
import { isRuntimeError } from '../../src/runtime/errors.js';
import type { ContainerSpec, Runtime } from '../../src/runtime/runtime.js';
import { busyboxRootfs, cleanupRuntimeDir, testContainerSpec } from '../support/runtime.js';
import { createVmRuntime, VM_EXITED } from '../../src/runtime/vm/index.js';
import { ensureAgent, killQemus, qemuPids, waitNoQemu } from '../support/vm.js';

let tmp: string;
let stateDir: string;
let rootfs: string;
const runtimes: Runtime[] = [];

const newId = () => randomBytes(32).toString('hex');

function runtime(): Runtime {
  // The guest cache is the user's (~/.cache/vic-kubelet/guest): built once, by the first test.
  const rt = createVmRuntime({ stateDir });
  runtimes.push(rt);
  return rt;
}

beforeAll(() => {
  ensureAgent();
  tmp = mkdtempSync(join(tmpdir(), 'runtime-vm-'));
  stateDir = join(tmp, 'state');
  rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
});

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

afterAll(() => {
  if (!tmp) return;
  killQemus(tmp);
  waitNoQemu(tmp);
  cleanupRuntimeDir(tmp, join(stateDir, 'runc'));
});

const spec = (id: string, args: string[], extra: Partial<ContainerSpec> = {}) =>
  testContainerSpec(tmp, rootfs, id, args, extra);
const sh = (id: string, script: string) => spec(id, ['sh', '-c', script]);

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

const qemuPidFile = (sb: string) => join(stateDir, 'vm', 'sandboxes', sb, 'qemu.pid');

async function waitFor(pred: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The process has exited: gone from /proc, or a zombie. */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

describe('vm runtime', () => {
  it(
    'runs two containers in one VM: the guest kernel and hostname, PID namespaces apart, ' +
      'stdout/stderr in output.log, exit codes, exec failure, restart, stop, re-attach, power-off',
    async () => {
      const rt = runtime();
      const sb = newId();
      const t0 = Date.now();
      await rt.createSandbox({ id: sb, hostname: 'vm-pod-a' });
      const ticker = sh(newId(), 'while true; do echo tick; sleep 0.2; done');
      const talker = sh(
        newId(),
        'uname -r; hostname; echo oops >&2; sleep 0.2; echo after; ps -o args; ls /dev; cat /proc/self/mountinfo; exit 3',
      );
      await rt.createContainer(sb, ticker);
      await rt.createContainer(sb, talker);
      await rt.start(ticker.id);
      const bootToRunning = Date.now() - t0;
      await rt.start(talker.id);
      const done = await rt.wait(talker.id);
      expect(done.status).toBe('exited');
      expect(done.exitCode).toBe(3);
      expect(done.finishedAt! >= done.startedAt!).toBe(true);

      const es = await entries(talker.logPath);
      const out = text(es, 0).split('\n');
      expect(out[0]).toMatch(/-amd64$/); // the guest's Debian kernel ...
      expect(out[0]).not.toBe(release()); // ... not the host's
      expect(out[1]).toBe('vm-pod-a');
      expect(out[1]).not.toBe(hostname());
      expect(out[2]).toBe('after');
      expect(text(es, 1)).toBe('oops\n');
      // Its own PID namespace: the other container's loop is not to be seen.
      expect(text(es, 0)).not.toContain('echo tick');
      expect(text(es, 0)).toContain('ps -o args');
      // Its own root: a /dev of its own, without the guest's log ports of every container.
      expect(text(es, 0)).toContain('urandom');
      expect(text(es, 0)).not.toContain('vport');
      // Pivoted, not chrooted (root can undo a chroot): its root is a mount of its own rootfs
      // (under a chroot the root would be a directory inside the share's mount, and no mount
      // would be at "/"), and the guest's root with the whole share is detached.
      expect(text(es, 0)).toContain(`/${talker.id}/rootfs / `);
      expect(text(es, 0)).not.toMatch(/ \/containers /);

      // --since through the query engine: from the stderr line on.
      const oops = es.find((e) => e.stream === 1)!;
      const since: string[] = [];
      for await (const c of queryLog(talker.logPath, { since: oops.timestamp }))
        since.push(Buffer.from(c.data).toString());
      expect(since.join('')).not.toContain('vm-pod-a');
      expect(since.join('')).toContain('oops\n');
      expect(since.join('')).toContain('after\n');

      // A restart appends to the same log.
      await rt.start(talker.id);
      expect((await rt.wait(talker.id)).exitCode).toBe(3);
      expect(text(await entries(talker.logPath), 1)).toBe('oops\noops\n');

      // The process spec as given: user (from the image's passwd/group), working directory
      // (created), environment (with spaces and '%', which the control protocol escapes).
      const whoArgs = [
        'sh',
        '-c',
        'id; pwd; echo "$GREETING"; echo "$HOME"; cat /proc/self/cgroup',
      ];
      const who = spec(newId(), whoArgs, {
        process: {
          args: whoArgs,
          env: ['PATH=/bin', 'GREETING=hello 100% there'],
          cwd: '/data/app',
          user: 'app',
        },
      });
      await rt.createContainer(sb, who);
      await rt.start(who.id);
      expect((await rt.wait(who.id)).exitCode).toBe(0);
      const whoOut = await entries(who.logPath);
      expect(text(whoOut, 0).split('\n')).toEqual([
        'uid=1000(app) gid=1000(app) groups=50(staff)', // as the runc backend
        '/data/app',
        'hello 100% there',
        '/home/app',
        `0::/${who.id}`, // its own cgroup in the guest, where its limits are
        '',
      ]);

      // Bulk output through the serial port: every byte, in order, in valid entries.
      const bulk = spec(newId(), ['seq', '1', '150000']);
      await rt.createContainer(sb, bulk);
      await rt.start(bulk.id);
      expect((await rt.wait(bulk.id)).exitCode).toBe(0);
      const bulkEntries = await entries(bulk.logPath);
      const want = Array.from({ length: 150000 }, (_, i) => `${i + 1}\n`).join('');
      expect(text(bulkEntries, 0) === want).toBe(true);
      expect(bulkEntries.length).toBe(150000);

      // Over its memory limit: the guest's OOM killer, and the reason said as runc says it.
      const hog = spec(newId(), ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], {
        memoryLimitBytes: 16 << 20,
        cpuMillis: 500,
      });
      await rt.createContainer(sb, hog);
      await rt.start(hog.id);
      const oom = await rt.wait(hog.id);
      expect(oom.exitCode).toBe(137);
      expect(oom.reason).toBe('OOMKilled');
      // The guest's clock was set from the host's: entry times are host times.
      expect(whoOut[0].timestamp).toBeGreaterThan(BigInt(t0 - 2000) * 1_000_000n);
      expect(whoOut[0].timestamp).toBeLessThan(BigInt(Date.now() + 2000) * 1_000_000n);

      // A command that is not there: InvalidInput, exited 127, the reason in the log.
      const missing = spec(newId(), ['/no/such/program']);
      await rt.createContainer(sb, missing);
      const err = await rt.start(missing.id).catch((e: unknown) => e);
      expect(isRuntimeError(err, 'InvalidInput')).toBe(true);
      expect((await rt.state(missing.id)).exitCode).toBe(127);
      expect(text(await entries(missing.logPath), 1)).toContain('/no/such/program');

      // Output keeps flowing into the log while no VCH runs: nothing on the host relays it.
      await rt.close();
      const ticks = async () => text(await entries(ticker.logPath), 0).split('tick').length;
      const before = await ticks();
      await waitFor(async () => (await ticks()) > before + 3, 10_000);
      // A new Runtime over the same state re-attaches to the running VM and its container.
      const rt2 = runtime();
      const recovered = await rt2.recover();
      expect(recovered.sandboxes).toContain(sb);
      expect((await rt2.state(ticker.id)).status).toBe('running');
      // stop: SIGTERM reaches the shell through the container's init (it is not PID 1).
      const stopped = await rt2.stop(ticker.id, { graceMs: 20_000 });
      expect(stopped.exitCode).toBe(143);

      const qemuPid = Number(readFileSync(qemuPidFile(sb), 'utf8'));
      expect(qemuPids(sb.slice(0, 12))).toContain(qemuPid);
      const busy = await rt2.removeSandbox(sb).catch((e: unknown) => e);
      expect(isRuntimeError(busy, 'Conflict')).toBe(true);
      for (const c of [ticker, talker, who, bulk, hog, missing]) await rt2.remove(c.id);
      await rt2.removeSandbox(sb);
      expect(qemuPids(sb.slice(0, 12))).toEqual([]);
      console.log(`vm runtime: sandbox created to first container running in ${bootToRunning} ms`);
    },
    180_000,
  );

  it('shares one PID namespace when the pod asks; a VM killed from outside marks its containers exited', async () => {
    const rt = runtime();
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'vm-pod-b', shareProcessNamespace: true });
    const sleeper = spec(newId(), ['sleep', '301']);
    const looker = sh(newId(), 'ps -o args');
    const stubborn = sh(newId(), 'trap "" TERM; echo up; while true; do sleep 0.1; done');
    for (const c of [sleeper, looker, stubborn]) await rt.createContainer(sb, c);
    await rt.start(sleeper.id);
    await rt.start(stubborn.id);
    await rt.start(looker.id);
    expect((await rt.wait(looker.id)).exitCode).toBe(0);
    expect(text(await entries(looker.logPath), 0)).toContain('sleep 301');
    // Ignoring SIGTERM: SIGKILL after the grace period, which in the shared PID namespace
    // must reach the process itself, not only its init.
    await waitFor(async () => text(await entries(stubborn.logPath), 0) === 'up\n', 10_000);
    const t = Date.now();
    const killed = await rt.stop(stubborn.id, { graceMs: 1000 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(1000);
    expect(killed.exitCode).toBe(137);
    const ps = sh(newId(), 'ps -o args');
    await rt.createContainer(sb, ps);
    await rt.start(ps.id);
    await rt.wait(ps.id);
    expect(text(await entries(ps.logPath), 0)).toContain('sleep 301');
    expect(text(await entries(ps.logPath), 0)).not.toContain('trap');

    const qemuPid = Number(readFileSync(qemuPidFile(sb), 'utf8'));
    process.kill(qemuPid, 'SIGKILL');
    const st = await rt.wait(sleeper.id);
    expect(st.status).toBe('exited');
    expect(st.exitCode).toBe(137);
    expect(st.reason).toBe(VM_EXITED);
    await waitFor(() => qemuPids(sb.slice(0, 12)).length === 0, 5000);

    // Starting it again boots the pod a new VM (restart policy after a VM crash).
    await rt.start(looker.id);
    expect((await rt.wait(looker.id)).exitCode).toBe(0);

    // A VM that dies while no runtime watches: the next one finds its containers lost.
    await rt.start(sleeper.id);
    await rt.close();
    const lastQemu = Number(readFileSync(qemuPidFile(sb), 'utf8'));
    process.kill(lastQemu, 'SIGKILL');
    // Dead, not just dying: a killed qemu's command line is empty as soon as its memory goes,
    // but freeing a VM's memory takes a while on a busy host, and until it is done the process
    // still runs (the runtime would rightly re-attach to it).
    await waitFor(() => exited(lastQemu), 15_000);
    const rt2 = runtime();
    await rt2.recover();
    const lost = await rt2.state(sleeper.id);
    expect(lost.status).toBe('exited');
    expect(lost.reason).toBe('Lost');
    for (const c of [sleeper, looker, stubborn, ps]) await rt2.remove(c.id);
    await rt2.removeSandbox(sb);
    expect(qemuPids(sb.slice(0, 12))).toEqual([]);
  }, 180_000);

  it('answers bad input with typed errors and no VM', async () => {
    const rt = runtime();
    const bad = await rt.createSandbox({ id: 'nope', hostname: 'x' }).catch((e: unknown) => e);
    expect(isRuntimeError(bad, 'InvalidInput')).toBe(true);
    const badHost = await rt
      .createSandbox({ id: newId(), hostname: 'no spaces' })
      .catch((e: unknown) => e);
    expect(isRuntimeError(badHost, 'InvalidInput')).toBe(true);
    const none = await rt.state(newId()).catch((e: unknown) => e);
    expect(isRuntimeError(none, 'NotFound')).toBe(true);
    const noSb = await rt.createContainer(newId(), sh(newId(), 'true')).catch((e: unknown) => e);
    expect(isRuntimeError(noSb, 'NotFound')).toBe(true);
    // No qemu: one clear Unavailable, and no half-made sandbox left behind.
    const noQemu = createVmRuntime({ stateDir, qemuPath: join(tmp, 'no-such-qemu') });
    runtimes.push(noQemu);
    const sb = newId();
    const down = await noQemu.createSandbox({ id: sb, hostname: 'x' }).catch((e: unknown) => e);
    expect(isRuntimeError(down, 'Unavailable')).toBe(true);
    expect((down as Error).message).toMatch(/qemu-system-x86|not found/);
    const gone = await noQemu.createContainer(sb, sh(newId(), 'true')).catch((e: unknown) => e);
    expect(isRuntimeError(gone, 'NotFound')).toBe(true);
  });
});
