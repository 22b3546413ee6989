import { describe, expect, it } from 'vitest';
import { checkSysctls, sysctlNamespace } from './sysctls.js';

describe('sysctls of a sandbox', () => {
  it('takes namespaced ones, in either spelling', () => {
    expect(
      checkSysctls({
        'net.ipv4.ip_unprivileged_port_start': '80',
        'kernel/shm_rmid_forced': '1',
        'kernel.msgmax': '8192',
        'fs.mqueue.msg_max': '20',
        'net.ipv4.ip_local_port_range': '1024\t65000',
      }),
    ).toEqual({
      'net.ipv4.ip_unprivileged_port_start': '80',
      'kernel.shm_rmid_forced': '1',
      'kernel.msgmax': '8192',
      'fs.mqueue.msg_max': '20',
      'net.ipv4.ip_local_port_range': '1024\t65000',
    });
    expect(sysctlNamespace('kernel.sem')).toBe('ipc');
    expect(sysctlNamespace('net.core.somaxconn')).toBe('net');
  });

  it("refuses the host's kernel, bad names and values that could break a command line", () => {
    expect(() => checkSysctls({ 'kernel.panic': '1' })).toThrow(/is not namespaced/);
    expect(() => checkSysctls({ 'vm.swappiness': '1' })).toThrow(/is not namespaced/);
    expect(() => checkSysctls({ 'net..x': '1' })).toThrow(/is not a sysctl name/);
    expect(() => checkSysctls({ 'net.ipv4.x y': '1' })).toThrow(/is not a sysctl name/);
    expect(() => checkSysctls({ 'net.ipv4.ping_group_range': '0 "1' })).toThrow(
      /not one a sysctl takes/,
    );
    expect(() => checkSysctls({ 'net.ipv4.ping_group_range': '0\n1' })).toThrow(
      /not one a sysctl takes/,
    );
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`net.ipv4.x${i}`, '1']));
    expect(() => checkSysctls(many)).toThrow(/more than 64/);
  });
});
