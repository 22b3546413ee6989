import { describe, expect, it } from 'vitest';
import { kernelCmdline, launchCommand, qemuArgs, vmSize, type VmLaunch } from './qemu.js';

const launch: VmLaunch = {
  name: 'vic-pod-abc',
  kernel: '/cache/kernel',
  initramfs: '/cache/initramfs.cpio.gz',
  accel: 'tcg',
  memoryMiB: 256,
  cpus: 1,
  tscKhz: 2_500_000,
  paths: {
    cwd: '/state/vm/sandboxes/x',
    pidFile: '/state/vm/sandboxes/x/qemu.pid',
    controlSocket: 'control.sock',
    dataSocket: 'data.sock',
    qmpSocket: 'qmp.sock',
    consoleLog: '/state/vm/sandboxes/x/console.log',
    stderrLog: '/state/vm/sandboxes/x/qemu.log',
    share: '/state/with,comma/share',
  },
};

describe('qemu launch', () => {
  it("opens the VCH's tap for a virtio-net device and tells the agent its address", () => {
    const net = {
      tap: 'vt0123456789ab',
      mac: '02:42:0a:58:00:05',
      address: '10.88.0.5/16',
      gateway: '10.88.0.1',
    };
    const a = qemuArgs({ ...launch, net });
    const after = (flag: string) => a.filter((_, i) => a[i - 1] === flag);
    expect(after('-netdev')).toEqual(['tap,id=net0,ifname=vt0123456789ab,script=no,downscript=no']);
    expect(after('-device')).toContain('virtio-net-device,netdev=net0,mac=02:42:0a:58:00:05');
    expect(kernelCmdline({ accel: 'kvm', net })).toContain(' vic.net=10.88.0.5/16,10.88.0.1');
    // No bridge: no interface at all, and nothing for the agent.
    expect(qemuArgs(launch)).not.toContain('-netdev');
    expect(kernelCmdline(launch)).not.toContain('vic.net');
  });

  it("builds a microvm with the share, the control and data ports, under qemu's sandbox", () => {
    const a = qemuArgs(launch);
    const after = (flag: string) => a.filter((_, i) => a[i - 1] === flag);
    expect(after('-M')[0]).toMatch(/^microvm/);
    // TCG's translation buffer bounded (its default 1 GiB fills to ~40 MiB of RSS per VM).
    expect(after('-accel')).toEqual(['tcg,tb-size=8']);
    expect(qemuArgs({ ...launch, accel: 'kvm' })).toContain('kvm');
    // Its own seccomp filter; so no -daemonize (its fork and setsid are what the filter denies).
    expect(after('-sandbox')).toEqual([
      'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    ]);
    expect(a).not.toContain('-daemonize');
    expect(a).toContain('-no-reboot');
    expect(after('-pidfile')).toEqual(['/state/vm/sandboxes/x/qemu.pid']);
    // qemu's ',' separator is escaped in paths.
    expect(after('-fsdev')[0]).toContain('path=/state/with,,comma/share,');
    expect(after('-fsdev')[0]).toContain('security_model=passthrough');
    expect(after('-device')).toContain('virtio-9p-device,fsdev=share,mount_tag=vic.containers');
    expect(after('-chardev')[0]).toBe('socket,id=control,path=control.sock,server=on,wait=off');
    expect(after('-device')).toContain(
      'virtserialport,bus=vser0.0,chardev=control,name=vic.control',
    );
    expect(after('-chardev')[1]).toBe('socket,id=data,path=data.sock,server=on,wait=off');
    expect(after('-device')).toContain('virtserialport,bus=vser0.0,chardev=data,name=vic.data');
    expect(after('-serial')).toEqual(['file:/state/vm/sandboxes/x/console.log']);
    expect(a).not.toContain('-cpu');
    expect(qemuArgs({ ...launch, accel: 'kvm' })).toContain('host');
  });

  it('tells a TCG guest its TSC rate; a KVM guest needs none', () => {
    expect(kernelCmdline(launch)).toContain('tsc_early_khz=2500000');
    expect(kernelCmdline({ accel: 'kvm' })).not.toContain('tsc_early_khz');
    expect(kernelCmdline({ accel: 'kvm' })).toContain('panic=-1');
    // The guest kernel's speculation mitigations stay on: it runs a hostile pod.
    expect(kernelCmdline({ accel: 'kvm' })).not.toContain('mitigations=off');
    expect(
      kernelCmdline({ accel: 'kvm', sysctls: { 'net.ipv4.ip_local_port_range': '2000 3000' } }),
    ).toMatch(/ sysctl\.net\.ipv4\.ip_local_port_range="2000 3000"$/);
  });

  it('sizes the VM from the pod limits, with floors and defaults', () => {
    expect(vmSize()).toEqual({ memoryMiB: 256, cpus: 1 });
    expect(vmSize(512 * 2 ** 20, 1500).memoryMiB).toBe(576);
    expect(vmSize(512 * 2 ** 20, 1500).cpus).toBeGreaterThanOrEqual(1);
    expect(vmSize(16 * 2 ** 20).memoryMiB).toBe(128);
    expect(vmSize(undefined, 100).cpus).toBe(1);
  });

  it("starts qemu through vm-jail as the VM's uid, the tap opened there and passed as fd 3", () => {
    const net = {
      tap: 'vt0123456789ab',
      mac: '02:42:0a:58:00:05',
      address: '10.88.0.5/16',
      gateway: '10.88.0.1',
    };
    const jail = { path: '/dist/tether/vm-jail', uid: 0x70000123, gid: 0x70000123 };
    const cmd = launchCommand({ ...launch, net, jail }, 'qemu-system-x86_64');
    const q = cmd.indexOf('qemu-system-x86_64');
    expect(cmd.slice(0, q)).toEqual([
      'nice',
      '-n',
      '10',
      '/dist/tether/vm-jail',
      String(0x70000123),
      String(0x70000123),
      '--tap',
      'vt0123456789ab',
      '--',
    ]);
    const a = cmd.slice(q + 1);
    expect(a.filter((_, i) => a[i - 1] === '-netdev')).toEqual(['tap,id=net0,fd=3']);
    // No bridge: no --tap; no jail: qemu straight from nice, opening the tap by name.
    expect(launchCommand({ ...launch, jail }, 'qemu').slice(3, 7)).toEqual([
      '/dist/tether/vm-jail',
      String(0x70000123),
      String(0x70000123),
      '--',
    ]);
    expect(launchCommand({ ...launch, net }, 'qemu').slice(0, 4)).toEqual([
      'nice',
      '-n',
      '10',
      'qemu',
    ]);
  });
});
