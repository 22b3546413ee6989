// A container's security spec on both backends, seen from inside: a read-only root (a write to
// "/" fails, /dev/shm stays writable), capabilities (drop ALL: CapEff 0 even for root; an added
// one shows; a non-root user holds none), no_new_privs (NoNewPrivs: 1), and an exec into the
// container getting the same. runc with a busybox-static rootfs; the vm backend in one pod VM.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../src/iolog/index.js';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import type { ContainerSpec, Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import {
  addSyscallProbe,
  busyboxRootfs,
  cleanupRuntimeDir,
  ensureTether,
  testContainerSpec,
} from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

let tmp: string;
let rootfs: string;
let tether: string;
const runtimes: Runtime[] = [];
const newId = () => randomBytes(32).toString('hex');

beforeAll(() => {
  tether = ensureTether();
  ensureAgent();
  tmp = mkdtempSync(join(tmpdir(), 'runtime-security-'));
  rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
  addSyscallProbe(rootfs);
});

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

afterAll(() => {
  if (!tmp) return;
  killQemus(tmp);
  waitNoQemu(tmp);
  cleanupRuntimeDir(tmp, join(tmp, 'state', 'runc'));
});

const backends: Record<'runc' | 'vm', () => Runtime> = {
  runc: () => createRuncRuntime({ stateDir: join(tmp, 'state'), tetherPath: tether }),
  vm: () => createVmRuntime({ stateDir: join(tmp, 'state') }),
};

const spec = (script: string, extra: Partial<ContainerSpec> = {}) =>
  testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', script], extra);

async function output(path: string): Promise<string> {
  let out = '';
  for await (const e of readEntries(path)) out += e.message.toString();
  return out;
}

const STATUS = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status";

describe.each(['runc', 'vm'] as const)('%s runtime: security spec', (backend) => {
  it('applies a read-only root, capabilities add and drop and no_new_privs, to execs too', async () => {
    const rt = backends[backend]();
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'sec-pod' });
    const locked = spec(
      `touch /x; echo touch=$?; touch /dev/shm/ok && echo shm=ok; ${STATUS}; sleep 60`,
      { security: { readOnlyRootfs: true, capDrop: ['ALL'], noNewPrivileges: true } },
    );
    const added = spec(`touch /x && echo touch=ok; ${STATUS}`, {
      security: { capAdd: ['CAP_NET_ADMIN'], capDrop: ['kill'] },
    });
    const plain = spec(STATUS);
    const user = spec('', {
      process: {
        ...plain.process,
        args: ['sh', '-c', `id -G; ${STATUS}`],
        user: '1000:1000',
        groups: ['2000', '3000'],
      },
      security: { capAdd: ['SYS_ADMIN'] },
    });
    for (const s of [locked, added, plain, user]) await rt.createContainer(sb, s);
    for (const s of [added, plain, user]) {
      await rt.start(s.id);
      expect((await rt.wait(s.id)).exitCode).toBe(0);
    }
    await rt.start(locked.id);
    const until = Date.now() + 30_000;
    while (!(await output(locked.logPath)).includes('NoNewPrivs') && Date.now() < until)
      await new Promise((r) => setTimeout(r, 200));

    const lockedOut = await output(locked.logPath);
    expect(lockedOut).toMatch(/Read-only file system/);
    expect(lockedOut).toContain('touch=1');
    expect(lockedOut).toContain('shm=ok');
    expect(lockedOut).toMatch(/CapEff:\s+0000000000000000/);
    expect(lockedOut).toMatch(/CapBnd:\s+0000000000000000/);
    expect(lockedOut).toMatch(/NoNewPrivs:\s+1/);
    // Docker's default 00000000a80425fb, plus NET_ADMIN (bit 12), minus KILL (bit 5).
    const addedOut = await output(added.logPath);
    expect(addedOut).toContain('touch=ok');
    expect(addedOut).toMatch(/CapEff:\s+00000000a80435db/);
    expect(addedOut).toMatch(/NoNewPrivs:\s+0/);
    expect(await output(plain.logPath)).toMatch(/CapEff:\s+00000000a80425fb/);
    // A non-root user holds none, whatever was added; the set bounds what it could gain.
    const userOut = await output(user.logPath);
    expect(userOut).toMatch(/^1000 2000 3000\n/);
    expect(userOut).toMatch(/CapEff:\s+0000000000000000/);
    expect(userOut).toMatch(/CapBnd:\s+00000000a82425fb/);

    // An exec into the locked container: its capabilities and no_new_privs.
    const exec = await rt.exec(locked.id, { args: ['sh', '-c', `${STATUS}; touch /y`] });
    const execOut = exec.stdout.toString() + exec.stderr.toString();
    expect(execOut).toMatch(/CapEff:\s+0000000000000000/);
    expect(execOut).toMatch(/NoNewPrivs:\s+1/);
    expect(execOut).toMatch(/Read-only file system/);
    expect(exec.exitCode).not.toBe(0);

    await rt.stop(locked.id, { graceMs: 1000 });
    for (const s of [locked, added, plain, user]) await rt.remove(s.id);
    await rt.removeSandbox(sb);
  }, 240_000);

  it('filters system calls: the default profile unless Unconfined, a Localhost profile, execs too', async () => {
    const rt = backends[backend]();
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'sec-seccomp' });
    const probe =
      "syscall-probe; grep '^Seccomp:' /proc/self/status; mkdir /tmp/d && echo mkdir=ok; true";
    const dflt = spec(`${probe}; sleep 60`);
    const unconfined = spec(probe, { security: { seccomp: { type: 'Unconfined' } } });
    // Everything allowed but mkdir, which fails with EACCES.
    const profile = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    });
    const local = spec(probe, { security: { seccomp: { type: 'Localhost', profile } } });
    for (const s of [dflt, unconfined, local]) await rt.createContainer(sb, s);
    for (const s of [unconfined, local]) {
      await rt.start(s.id);
      expect((await rt.wait(s.id)).exitCode).toBe(0);
    }
    await rt.start(dflt.id);
    const until = Date.now() + 30_000;
    while (!(await output(dflt.logPath)).includes('mkdir') && Date.now() < until)
      await new Promise((r) => setTimeout(r, 200));

    // ENOSYS (38) from the filter; EFAULT (14) and success from the kernel itself.
    const dfltOut = await output(dflt.logPath);
    expect(dfltOut).toContain('add_key=38\npersonality=38\n');
    expect(dfltOut).toMatch(/Seccomp:\s+2/);
    expect(dfltOut).toContain('mkdir=ok');
    const freeOut = await output(unconfined.logPath);
    expect(freeOut).toContain('add_key=14\npersonality=0\n');
    expect(freeOut).toMatch(/Seccomp:\s+0/);
    const localOut = await output(local.logPath);
    expect(localOut).toContain('add_key=14\n');
    expect(localOut).toMatch(/Seccomp:\s+2/);
    expect(localOut).toMatch(/Permission denied/);
    expect(localOut).not.toContain('mkdir=ok');

    // An exec into the default-profile container is filtered the same way.
    const exec = await rt.exec(dflt.id, { args: ['syscall-probe'] });
    expect(exec.stdout.toString()).toBe('add_key=38\npersonality=38\n');

    await rt.stop(dflt.id, { graceMs: 1000 });
    for (const s of [dflt, unconfined, local]) await rt.remove(s.id);
    await rt.removeSandbox(sb);
  }, 240_000);

  it("sets the pod's sysctls in its own namespaces, and refuses one of the host's", async () => {
    const rt = backends[backend]();
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({
      id: sb,
      hostname: 'sec-sysctl',
      sysctls: {
        'net.ipv4.ip_local_port_range': '2000\t3000',
        'kernel.shm_rmid_forced': '1',
        'net/ipv4/ip_unprivileged_port_start': '80',
      },
    });
    const c = spec(
      'cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start',
    );
    await rt.createContainer(sb, c);
    await rt.start(c.id);
    expect((await rt.wait(c.id)).exitCode).toBe(0);
    expect(await output(c.logPath)).toBe('2000\t3000\n1\n80\n');
    await rt.remove(c.id);
    await rt.removeSandbox(sb);
    await expect(
      rt.createSandbox({ id: newId(), hostname: 'sec-host', sysctls: { 'kernel.panic': '1' } }),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/not namespaced/),
    });
  }, 240_000);

  it('refuses a malformed Localhost seccomp profile as InvalidInput before anything runs', async () => {
    const rt = backends[backend]();
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'sec-bad-seccomp' });
    const bad = spec('true', {
      security: { seccomp: { type: 'Localhost', profile: '{"defaultAction":"SCMP_ACT_FLY"}' } },
    });
    await expect(rt.createContainer(sb, bad)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringContaining('defaultAction "SCMP_ACT_FLY"'),
    });
    await rt.removeSandbox(sb);
  });

  it('refuses an unknown capability as InvalidInput before anything runs', async () => {
    const rt = backends[backend]();
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'sec-bad' });
    const bad = spec('true', { security: { capAdd: ['CAP_FLY'] } });
    await expect(rt.createContainer(sb, bad)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringContaining('unknown capability "CAP_FLY"'),
    });
    await rt.removeSandbox(sb);
  });
});
