import { describe, expect, it } from 'vitest';
import { capMask, ownCapabilities } from '../capabilities.js';
import { containerConfig, execProcessConfig, sandboxConfig } from './oci-config.js';

const sandbox = {
  shm: '/s/shm',
  hostname: '/s/hostname',
  hosts: '/s/hosts',
  resolvConf: '/s/resolv',
};
const base = {
  id: 'c'.repeat(64),
  rootfs: '/c/rootfs',
  process: { args: ['sh', '-c', 'x'], env: ['PATH=/bin'], cwd: '/w', user: 'app' },
  user: { uid: 1000, gid: 1000, additionalGids: [50], home: '/home/app' },
  tether: '/dist/tether',
  pausePid: 4321,
  sharePid: false,
  sandbox,
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('containerConfig', () => {
  it('runs the merged process under the tether with the log on fd 3 and its status on fd 4', () => {
    const c = containerConfig(base) as Json;
    expect(c.process.args).toEqual([
      '/.vic/tether',
      '--log-fd',
      '3',
      '--status-fd',
      '4',
      '--user',
      '1000:1000:50',
      '--caps',
      'a80425fb', // Docker's default set
      '--',
      'sh',
      '-c',
      'x',
    ]);
    expect(c.process.user).toEqual({ uid: 0, gid: 0 }); // the tether drops to 1000 for the process
    expect(c.process.env).toEqual(['PATH=/bin', 'HOME=/home/app']);
    expect(c.process.cwd).toBe('/w');
    expect(c.root).toEqual({ path: '/c/rootfs', readonly: false });
  });

  it('applies a read-only root, no_new_privs and the asked capabilities through the tether', () => {
    const c = containerConfig({
      ...base,
      security: {
        readOnlyRootfs: true,
        capDrop: ['ALL'],
        capAdd: ['net_admin'],
        noNewPrivileges: true,
      },
    }) as Json;
    expect(c.root).toEqual({ path: '/c/rootfs', readonly: true });
    expect(c.process.noNewPrivileges).toBe(true);
    const args = c.process.args as string[];
    expect(args.slice(args.indexOf('--caps'), args.indexOf('--'))).toEqual([
      '--caps',
      (1 << 12).toString(16),
      '--no-new-privs',
    ]);
    // The tether keeps what it needs to drop to the user and the bounding set.
    expect(c.process.capabilities.bounding).toEqual([
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETPCAP',
      'CAP_NET_ADMIN',
    ]);
    const exec = execProcessConfig(
      { args: ['id'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/' } },
      { capDrop: ['ALL'], capAdd: ['NET_ADMIN'], noNewPrivileges: true },
    ) as Json;
    expect(exec.capabilities).toEqual({
      bounding: ['CAP_NET_ADMIN'],
      effective: ['CAP_NET_ADMIN'],
      permitted: ['CAP_NET_ADMIN'],
    });
    expect(exec.noNewPrivileges).toBe(true);
  });

  it('joins the pause process namespaces; its own PID namespace unless shared', () => {
    const c = containerConfig(base) as Json;
    expect(c.linux.namespaces).toEqual([
      { type: 'mount' },
      { type: 'pid' },
      { type: 'network', path: '/proc/4321/ns/net' },
      { type: 'ipc', path: '/proc/4321/ns/ipc' },
      { type: 'uts', path: '/proc/4321/ns/uts' },
    ]);
    const shared = containerConfig({ ...base, sharePid: true }) as Json;
    expect(shared.linux.namespaces[1]).toEqual({ type: 'pid', path: '/proc/4321/ns/pid' });
    expect(c.hostname).toBeUndefined(); // the UTS namespace is the sandbox's
  });

  it('mounts the tether read-only and the pod files read-write; nothing of the status', () => {
    const m = (containerConfig(base) as Json).mounts as Json[];
    const at = (d: string) => m.find((x) => x.destination === d)!;
    expect(at('/.vic/tether')).toMatchObject({ source: '/dist/tether', type: 'bind' });
    expect(at('/.vic/tether').options).toContain('ro');
    expect(m.some((x) => /status|\.vic\/?$/.test(x.destination))).toBe(false);
    expect(at('/dev/shm').source).toBe('/s/shm');
    expect(at('/etc/hosts').source).toBe('/s/hosts');
    expect(at('/etc/hostname').source).toBe('/s/hostname');
  });

  it('turns limits into cgroup settings', () => {
    const c = containerConfig({ ...base, memoryLimitBytes: 64 << 20, cpuMillis: 250 }) as Json;
    expect(c.linux.resources.memory).toEqual({ limit: 64 << 20 });
    expect(c.linux.resources.cpu).toEqual({ period: 100_000, quota: 25_000 });
    expect((containerConfig({ ...base, cpuMillis: 1 }) as Json).linux.resources.cpu.quota).toBe(
      1000,
    );
    expect((containerConfig(base) as Json).linux.resources.memory).toBeUndefined();
  });

  it('keeps a HOME the env sets', () => {
    const c = containerConfig({ ...base, process: { ...base.process, env: ['HOME=/x'] } }) as Json;
    expect(c.process.env).toEqual(['HOME=/x']);
  });
});

describe('sandboxConfig', () => {
  it('is the tether in pause mode with new namespaces and the hostname', () => {
    const c = sandboxConfig({
      id: 'p'.repeat(64),
      hostname: 'pod',
      rootfs: '/r',
      tether: '/t',
    }) as Json;
    expect(c.process.args).toEqual(['/.vic/tether', '--pause']);
    expect(c.hostname).toBe('pod');
    expect(c.root.readonly).toBe(true);
    expect(c.linux.namespaces.map((n: Json) => n.type).sort()).toEqual([
      'ipc',
      'mount',
      'network',
      'pid',
      'uts',
    ]);
  });

  it('makes no namespace of a kind the pod shares with the host (hostNetwork: UTS too, no hostname)', () => {
    const types = (host: object) =>
      sandboxConfig({
        id: 'p'.repeat(64),
        hostname: 'pod',
        rootfs: '/r',
        tether: '/t',
        host,
      }) as Json;
    const net = types({ network: true });
    expect(net.linux.namespaces.map((n: Json) => n.type).sort()).toEqual(['ipc', 'mount', 'pid']);
    expect(net.hostname).toBeUndefined();
    const all = types({ network: true, pid: true, ipc: true });
    expect(all.linux.namespaces.map((n: Json) => n.type)).toEqual(['mount']);
    expect(types({ pid: true, ipc: true }).hostname).toBe('pod');
  });
});

describe('a privileged container', () => {
  const device = {
    path: '/dev/sda',
    type: 'b' as const,
    major: 8,
    minor: 0,
    fileMode: 0o660,
    uid: 0,
    gid: 6,
  };
  const c = containerConfig({ ...base, security: { privileged: true }, devices: [device] }) as Json;

  it('holds every capability this process holds, the tether and the process alike', () => {
    const own = ownCapabilities();
    const args = c.process.args as string[];
    expect(args[args.indexOf('--caps') + 1]).toBe(capMask(own));
    expect(c.process.capabilities.bounding).toEqual(own.map((n) => `CAP_${n}`));
    // (as root, this test runs with at least the admin ones)
    expect(c.process.capabilities.bounding).toContain('CAP_SYS_ADMIN');
    const exec = execProcessConfig(
      { args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/' } },
      { privileged: true },
    ) as Json;
    expect(exec.capabilities.effective).toHaveLength(own.length);
  });

  it("gets the host's devices, any device access, /sys writable and /proc unmasked", () => {
    expect(c.linux.devices).toEqual([device]);
    expect(c.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(c.mounts.find((m: Json) => m.destination === '/sys').options).toContain('rw');
    expect(c.linux.maskedPaths).toEqual([]);
    expect(c.linux.readonlyPaths).toEqual([]);
  });

  it('is none of that when not privileged', () => {
    const plain = containerConfig({ ...base, devices: [device] }) as Json;
    expect(plain.linux.devices).toBeUndefined();
    expect(plain.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(plain.mounts.find((m: Json) => m.destination === '/sys').options).toContain('ro');
    expect(plain.linux.maskedPaths).toContain('/proc/kcore');
  });
});

describe('execProcessConfig', () => {
  const proc = {
    args: ['id'],
    env: ['PATH=/bin', 'HOME=/home/app'],
    cwd: '/w',
    user: { uid: 1000, gid: 1000, additionalGids: [50], home: '/home/app' },
  };

  it("runs as the exec's user with the container's capabilities: none effective but for root", () => {
    const p = execProcessConfig(proc) as Json;
    expect(p).toMatchObject({
      terminal: false,
      user: { uid: 1000, gid: 1000, additionalGids: [50] },
      args: ['id'],
      env: ['PATH=/bin', 'HOME=/home/app'],
      cwd: '/w',
      noNewPrivileges: false,
    });
    const container = containerConfig(base) as Json;
    expect(p.capabilities.bounding).toEqual(container.process.capabilities.bounding);
    expect(p.capabilities.effective).toEqual([]);
    expect(p.capabilities.permitted).toEqual([]);
    const root = execProcessConfig({ ...proc, user: { ...proc.user, uid: 0 } }) as Json;
    expect(root.capabilities).toEqual(container.process.capabilities);
  });
});
