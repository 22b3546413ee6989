import { describe, expect, it } from 'vitest';
import { kernelAtLeast, ociSeccomp, resolveProfile } from './profile.js';

const t = { caps: ['CHOWN', 'SYS_ADMIN'], kernel: '6.1.0-18-amd64' };

describe('resolveProfile', () => {
  it('keeps the rules that fit the container (caps, arches, kernel) and gives OCI linux.seccomp', () => {
    const r = resolveProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW' },
          { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
          { names: ['kcmp'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PTRACE'] } },
          { names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
          { names: ['y'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.0' } },
          { names: ['z'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_CHOWN'] } },
          {
            name: 'w',
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 1,
            args: [{ index: 1, value: 2, op: 'SCMP_CMP_EQ' }],
          },
        ],
      }),
      t,
    );
    expect(r.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    expect(r.syscalls.map((s) => s.names[0])).toEqual(['read', 'bpf', 'w']);
    expect(ociSeccomp(r)).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['bpf'], action: 'SCMP_ACT_ALLOW' },
        {
          names: ['w'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 1,
          args: [{ index: 1, value: 2, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
        },
      ],
    });
  });

  it('refuses what is not a profile, in one line each', () => {
    const bad: [string, RegExp][] = [
      ['nope', /not JSON/],
      ['[]', /must be a JSON object/],
      ['{"defaultAction":"SCMP_ACT_NOTIFY"}', /defaultAction "SCMP_ACT_NOTIFY" is not an action/],
      ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}', /syscalls must be a list/],
      [
        '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}',
        /names no system call/,
      ],
      [
        '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}',
        /index must be an integer from 0 to 5/,
      ],
      [
        '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_FLY"}]}]}',
        /op "SCMP_CMP_FLY" is unknown/,
      ],
      ['{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}', /listenerPath/],
    ];
    for (const [text, why] of bad) expect(() => resolveProfile(text, t)).toThrow(why);
    expect(() => resolveProfile(' '.repeat((1 << 20) + 1), t)).toThrow(/larger than/);
  });

  it('compares kernel versions by their numbers', () => {
    expect(kernelAtLeast('6.1.0-18-amd64', '5.8')).toBe(true);
    expect(kernelAtLeast('5.4.0', '5.8')).toBe(false);
    expect(kernelAtLeast('5.8', '5.8')).toBe(true);
  });
});
