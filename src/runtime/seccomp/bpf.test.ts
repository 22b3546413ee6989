// The BPF compiler, checked by running its programs in a small classic-BPF interpreter (the
// instructions seccomp filters use) over system calls of both architectures.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, RET, compileBpf } from './bpf.js';
import { resolveProfile, type ResolvedProfile } from './profile.js';
import { I386, X86_64 } from './syscall-numbers.js';

interface Call {
  arch?: number;
  nr: number;
  args?: bigint[];
}

/** Runs `prog` on one seccomp_data; returns the filter's verdict. */
function run(prog: Buffer, c: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(c.nr >>> 0, 0);
  data.writeUInt32LE(c.arch ?? AUDIT_ARCH_X86_64, 4);
  (c.args ?? []).forEach((a, i) => data.writeBigUInt64LE(a, 16 + 8 * i));
  let A = 0;
  for (let pc = 0, steps = 0; pc < prog.length / 8; pc++, steps++) {
    if (steps > 10_000) throw new Error('loop');
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20:
        A = data.readUInt32LE(k);
        break;
      case 0x54:
        A = (A & k) >>> 0;
        break;
      case 0x05:
        pc += k;
        break;
      case 0x15:
        pc += A === k ? jt : jf;
        break;
      case 0x25:
        pc += A > k ? jt : jf;
        break;
      case 0x35:
        pc += A >= k ? jt : jf;
        break;
      case 0x45:
        pc += (A & k) !== 0 ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`unknown code ${code}`);
    }
  }
  throw new Error('fell off the end');
}

const target = { caps: ['CHOWN', 'KILL'], kernel: '6.1.0' };
const profile = (p: object): ResolvedProfile => resolveProfile(JSON.stringify(p), target);
const ERRNO = (e: number) => RET.ERRNO | e;

describe('compileBpf', () => {
  const p = profile({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    ],
    syscalls: [
      { names: ['read', 'write', 'nosuchcall'], action: 'SCMP_ACT_ALLOW' },
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }],
      },
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }],
      },
      {
        names: ['socket'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 22,
        args: [
          { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
          { index: 2, value: 9, op: 'SCMP_CMP_EQ' },
        ],
      },
      {
        names: ['socket'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 2, value: 9, op: 'SCMP_CMP_NE' }],
      },
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      {
        names: ['mmap'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 1, value: 0x1_0000_0000, op: 'SCMP_CMP_LT' }],
      },
      {
        names: ['munmap'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 1, value: 4096, op: 'SCMP_CMP_GE' }],
      },
      { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'] } },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_KILL'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm'] } },
      { names: ['reboot'], action: 'SCMP_ACT_KILL_PROCESS' },
    ],
  });
  const prog = compileBpf(p);
  const x = (name: string, args: bigint[] = []) => run(prog, { nr: X86_64[name], args });

  it('allows what the profile allows and answers the default for the rest', () => {
    expect(x('read')).toBe(RET.ALLOW);
    expect(x('write')).toBe(RET.ALLOW);
    expect(x('add_key')).toBe(ERRNO(38));
    expect(x('reboot')).toBe(RET.KILL_PROCESS);
    expect(run(prog, { nr: 5000 })).toBe(ERRNO(38));
  });

  it('compares 64-bit arguments (EQ, NE, MASKED_EQ, LT, GE) and takes the first rule that holds', () => {
    expect(x('personality', [8n])).toBe(RET.ALLOW);
    expect(x('personality', [0xffffffffn])).toBe(RET.ALLOW);
    expect(x('personality', [0x1_0000_0008n])).toBe(ERRNO(38));
    expect(x('personality', [0x40000n])).toBe(ERRNO(38));
    expect(x('socket', [16n, 3n, 9n])).toBe(ERRNO(22));
    expect(x('socket', [2n, 1n, 6n])).toBe(RET.ALLOW);
    expect(x('socket', [2n, 1n, 9n])).toBe(ERRNO(38));
    expect(x('clone', [0x11n])).toBe(RET.ALLOW);
    expect(x('clone', [0x10000000n])).toBe(ERRNO(38)); // CLONE_NEWUSER
    expect(x('mmap', [0n, 4096n])).toBe(RET.ALLOW);
    expect(x('mmap', [0n, 0x1_0000_0000n])).toBe(ERRNO(38));
    expect(x('munmap', [0n, 4096n])).toBe(RET.ALLOW);
    expect(x('munmap', [0n, 0x1_0000_0000n])).toBe(RET.ALLOW);
    expect(x('munmap', [0n, 4095n])).toBe(ERRNO(38));
  });

  it('applies includes and excludes for the container’s capabilities and architecture', () => {
    expect(x('bpf')).toBe(ERRNO(38));
    expect(x('chown')).toBe(RET.ALLOW);
    expect(x('kill')).toBe(ERRNO(38)); // excluded: the container holds CAP_KILL
    expect(x('arch_prctl')).toBe(RET.ALLOW);
  });

  it('filters i386 calls by their own numbers, x32 calls with ENOSYS, other architectures killed', () => {
    expect(run(prog, { arch: AUDIT_ARCH_I386, nr: I386.read })).toBe(RET.ALLOW);
    expect(run(prog, { arch: AUDIT_ARCH_I386, nr: I386.add_key })).toBe(ERRNO(38));
    expect(run(prog, { nr: 0x40000000 | X86_64.read })).toBe(ERRNO(38));
    expect(run(prog, { arch: 0xc00000b7, nr: 63 })).toBe(RET.KILL_PROCESS);
    const only64 = compileBpf({ ...p, architectures: ['SCMP_ARCH_X86_64'] });
    expect(run(only64, { arch: AUDIT_ARCH_I386, nr: I386.read })).toBe(RET.KILL_PROCESS);
  });

  it('compiles the default profile Debian ships, under the kernel’s 4096-instruction limit', () => {
    let text: string;
    try {
      text = readFileSync('/usr/share/containers/seccomp.json', 'utf8');
    } catch {
      throw new Error(
        'apt-get install golang-github-containers-common (the default seccomp profile)',
      );
    }
    const dflt = compileBpf(resolveProfile(text, { caps: ['CHOWN'], kernel: '6.1.0' }));
    expect(dflt.length / 8).toBeLessThan(4096);
    expect(run(dflt, { nr: X86_64.read })).toBe(RET.ALLOW);
    expect(run(dflt, { nr: X86_64.add_key })).toBe(ERRNO(38));
    expect(run(dflt, { nr: X86_64.bpf })).toBe(ERRNO(1));
    expect(run(dflt, { nr: X86_64.personality, args: [0x40000n] })).toBe(ERRNO(38));
    expect(run(dflt, { nr: X86_64.personality, args: [0n] })).toBe(RET.ALLOW);
  });
});
