// A resolved seccomp profile → a classic BPF program (struct sock_filter[]) for
// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER), which the pod VM agent installs before it execs a
// container's process. runc compiles profiles itself through libseccomp; the guest has no
// libseccomp (the agent is a small static program), so the host compiles here, for x86_64 and,
// when the profile covers SCMP_ARCH_X86, for 32-bit programs (i386 numbers).
//
// Layout: check the architecture; per architecture, load the syscall number and test each one
// the profile names (`JEQ nr` followed by its block, which always ends in a RET, so a miss jumps
// over the block with the number still in A); at the end the default action. Conditional jumps
// reach 255 instructions at most, so blocks stay local and the one long jump (to the i386
// section) is a JA.
import { invalidInput } from '../errors.js';
import type { ResolvedProfile, SeccompAction, SeccompArg, SeccompRule } from './profile.js';
import { I386, X86_64 } from './syscall-numbers.js';

// linux/filter.h, linux/seccomp.h, linux/audit.h
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JA = 0x05;
const BPF_JEQ_K = 0x15;
const BPF_JGT_K = 0x25;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_ALU_AND_K = 0x54;
const BPF_RET_K = 0x06;
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
const X32_SYSCALL_BIT = 0x40000000;
const ENOSYS = 38;
const OFF_NR = 0;
const OFF_ARCH = 4;
const offArg = (i: number, high: boolean) => 16 + 8 * i + (high ? 4 : 0);

export const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** An instruction whose jumps may name labels, resolved when the program is laid out. */
interface Insn {
  code: number;
  k: number;
  jt?: number | string;
  jf?: number | string;
  label?: string;
}

function retValue(action: SeccompAction, errno: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return RET.ALLOW;
    case 'SCMP_ACT_ERRNO':
      return RET.ERRNO | ((errno ?? 1) & 0xffff);
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return RET.TRAP;
    case 'SCMP_ACT_TRACE':
      return RET.TRACE | ((errno ?? 0) & 0xffff);
    case 'SCMP_ACT_LOG':
      return RET.LOG;
  }
}

const hi = (v: number) => Math.floor(v / 0x1_0000_0000) >>> 0;
const lo = (v: number) => v >>> 0;
const ld = (off: number): Insn => ({ code: BPF_LD_W_ABS, k: off });
const jmp = (code: number, k: number, jt: number | string, jf: number | string): Insn => ({
  code,
  k,
  jt,
  jf,
});

/**
 * One 64-bit argument comparison: falls through when it holds, jumps to `fail` when it does
 * not. `pass` is a label placed right after these instructions.
 */
function compare(a: SeccompArg, fail: string, pass: string): Insn[] {
  const H = ld(offArg(a.index, true));
  const L = ld(offArg(a.index, false));
  const v = a.value;
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      return [H, jmp(BPF_JEQ_K, hi(v), 0, fail), L, jmp(BPF_JEQ_K, lo(v), 0, fail)];
    case 'SCMP_CMP_NE':
      return [H, jmp(BPF_JEQ_K, hi(v), 0, pass), L, jmp(BPF_JEQ_K, lo(v), fail, 0)];
    case 'SCMP_CMP_MASKED_EQ': {
      const m = a.value;
      const d = a.valueTwo;
      const and = (k: number): Insn => ({ code: BPF_ALU_AND_K, k });
      return [
        H,
        and(hi(m)),
        jmp(BPF_JEQ_K, hi(d), 0, fail),
        L,
        and(lo(m)),
        jmp(BPF_JEQ_K, lo(d), 0, fail),
      ];
    }
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE': {
      const last = a.op === 'SCMP_CMP_GT' ? BPF_JGT_K : BPF_JGE_K;
      return [
        H,
        jmp(BPF_JGT_K, hi(v), pass, 0),
        jmp(BPF_JEQ_K, hi(v), 0, fail),
        L,
        jmp(last, lo(v), 0, fail),
      ];
    }
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      // Not GE / not GT.
      const last = a.op === 'SCMP_CMP_LT' ? BPF_JGE_K : BPF_JGT_K;
      return [
        H,
        jmp(BPF_JGT_K, hi(v), fail, 0),
        jmp(BPF_JEQ_K, hi(v), 0, pass),
        L,
        jmp(last, lo(v), fail, 0),
      ];
    }
  }
}

let labelSeq = 0;
const newLabel = (p: string) => `${p}${labelSeq++}`;

/** The block for one system call: its rules in order (the first that holds decides). */
function block(rules: SeccompRule[], dflt: number): Insn[] {
  const out: Insn[] = [];
  for (const r of rules) {
    const ret: Insn = { code: BPF_RET_K, k: retValue(r.action, r.errnoRet) };
    if (r.args.length === 0) {
      out.push(ret);
      return out; // what follows is unreachable
    }
    const next = newLabel('next');
    for (const a of r.args) {
      const pass = newLabel('pass');
      out.push(...compare(a, next, pass));
      out.push({ code: -1, k: 0, label: pass });
    }
    out.push(ret, { code: -1, k: 0, label: next });
  }
  out.push({ code: BPF_RET_K, k: dflt });
  return out;
}

/** One architecture's section: A ← nr, then each named system call, then the default. */
function section(
  p: ResolvedProfile,
  table: Readonly<Record<string, number>>,
  x86_64: boolean,
): Insn[] {
  const dflt = retValue(p.defaultAction, p.defaultErrnoRet);
  const byNr = new Map<number, SeccompRule[]>();
  for (const r of p.syscalls) {
    for (const name of r.names) {
      const nr = table[name];
      if (nr === undefined) continue; // another architecture's call (libseccomp skips them too)
      const list = byNr.get(nr) ?? [];
      if (!list.includes(r)) list.push(r);
      byNr.set(nr, list);
    }
  }
  const out: Insn[] = [ld(OFF_NR)];
  // x32 calls (the x32 bit set) are not x86_64's: the profile does not cover them.
  if (x86_64)
    out.push(jmp(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1), {
      code: BPF_RET_K,
      k: RET.ERRNO | ENOSYS,
    });
  for (const [nr, rules] of byNr) {
    const skip = newLabel('skip');
    out.push(jmp(BPF_JEQ_K, nr, 0, skip), ...block(rules, dflt), { code: -1, k: 0, label: skip });
  }
  out.push({ code: BPF_RET_K, k: dflt });
  return out;
}

/** Lays out labels and returns the program, 8 bytes per instruction (host byte order: x86). */
function assemble(insns: Insn[]): Buffer {
  const at = new Map<string, number>();
  const real: Insn[] = [];
  for (const i of insns) {
    if (i.code === -1) at.set(i.label!, real.length);
    else real.push(i);
  }
  const buf = Buffer.alloc(real.length * 8);
  real.forEach((i, n) => {
    const rel = (j: number | string | undefined, what: string): number => {
      if (j === undefined) return 0;
      if (typeof j === 'number') return j;
      const target = at.get(j);
      if (target === undefined) throw new Error(`seccomp bpf: label ${j} not placed`);
      const off = target - (n + 1);
      if (off < 0 || (what !== 'k' && off > 255))
        throw invalidInput('seccomp profile: a system call has too many rules to compile');
      return off;
    };
    const k = i.code === BPF_JMP_JA && typeof i.jt === 'string' ? rel(i.jt, 'k') : i.k;
    buf.writeUInt16LE(i.code, n * 8);
    buf.writeUInt8(i.code === BPF_JMP_JA ? 0 : rel(i.jt, 'jt'), n * 8 + 2);
    buf.writeUInt8(i.code === BPF_JMP_JA ? 0 : rel(i.jf, 'jf'), n * 8 + 3);
    buf.writeUInt32LE(k >>> 0, n * 8 + 4);
  });
  // BPF_MAXINSNS
  if (real.length > 4096)
    throw invalidInput('seccomp profile: compiles to more than 4096 BPF instructions');
  return buf;
}

/** The BPF program for `p` on an x86_64 kernel. */
export function compileBpf(p: ResolvedProfile): Buffer {
  const i386 = p.architectures.includes('SCMP_ARCH_X86');
  const to386 = newLabel('i386');
  const insns: Insn[] = [
    ld(OFF_ARCH),
    jmp(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    { code: BPF_JMP_JA, k: 0, jt: to386 },
    ...section(p, X86_64, true),
    { code: -1, k: 0, label: to386 },
  ];
  if (i386) insns.push(jmp(BPF_JEQ_K, AUDIT_ARCH_I386, 1, 0));
  // Any other architecture (or i386 when the profile does not cover it): killed, as libseccomp's
  // default for a foreign architecture.
  insns.push({ code: BPF_RET_K, k: RET.KILL_PROCESS });
  if (i386) insns.push(...section(p, I386, false));
  return assemble(insns);
}
