import { describe, expect, it } from 'vitest';
import { parseAllowedUnsafeSysctls } from './sysctl-flags.js';

describe('--allowed-unsafe-sysctls', () => {
  it('takes namespaced names and prefixes', () => {
    expect(parseAllowedUnsafeSysctls('kernel.msg*, net.core.*,kernel.sem')).toEqual([
      'kernel.msg*',
      'net.core.*',
      'kernel.sem',
    ]);
    expect(parseAllowedUnsafeSysctls(undefined)).toEqual([]);
  });

  it("refuses what would reach the host's kernel, in one line", () => {
    for (const bad of ['kernel.*', 'vm.swappiness', '*', 'net.core.somaxconn=1'])
      expect(() => parseAllowedUnsafeSysctls(bad)).toThrow(/want a namespaced sysctl/);
  });
});
