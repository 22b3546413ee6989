// Signal names as Docker and Kubernetes write them ("SIGTERM", "TERM", "15") to numbers.
import { constants } from 'node:os';
import { invalidInput } from './errors.js';

const byName = constants.signals as Record<string, number>;

/** The signal's number; InvalidInput for anything that is not a Linux signal. */
export function parseSignal(signal: string): number {
  const s = signal.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = s.toUpperCase();
    const n = byName[name.startsWith('SIG') ? name : `SIG${name}`];
    if (n !== undefined) return n;
    // Real-time signals: SIGRTMIN+N / SIGRTMAX-N as Docker accepts them (glibc: 34..64).
    const rt = /^(?:SIG)?RT(MIN|MAX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const v = (rt[1] === 'MIN' ? 34 : 64) + Number(rt[2] ?? 0);
      if (v >= 34 && v <= 64) return v;
    }
  }
  throw invalidInput(
    `invalid signal ${JSON.stringify(signal)}: want a name (SIGTERM, TERM) or 1..64`,
  );
}
