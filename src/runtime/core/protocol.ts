// The line protocol of tether/protocol.h on the TypeScript side: the status records a runc
// tether writes to its status fd, and the control protocol of a pod VM's agent. protocol.h is
// the reference; protocol.test.ts reads it and checks the names and field counts below.

/** Messages the host sends to the agent, with the number of fixed fields after the name. */
export const TO_GUEST = {
  hello: 2,
  start: 8,
  signal: 2,
  forget: 1,
  time: 1,
  status: 0,
  poweroff: 0,
  exec: 8,
  execsignal: 3,
  execio: 12,
  execresize: 4,
  connect: 2,
  rotated: 1,
  stats: 1,
  attach: 2,
  attachin: 2,
  attachclose: 1,
  attachresize: 3,
} as const;

/** Messages from the agent (and, for started/exited, from a runc tether's status fd). */
export const TO_HOST = {
  hello: 1,
  started: 3,
  exited: 7,
  error: 2,
  execout: 4,
  execexit: 4,
  connected: 1,
  connfail: 2,
  rotate: 2,
  stats: 8,
} as const;

/** VIC_MAX_LINE: the longest line the agent reads. */
export const MAX_LINE = 262144;
/** VIC_EXEC_CHUNK: the most bytes of output one execout line carries. */
export const EXEC_CHUNK = 2048;

/** Percent-encodes one token: bytes outside '!'..'~' and '%'; "" is "-", "-" is "%2D". */
export function encodeToken(s: string): string {
  if (s === '') return '-';
  if (s === '-') return '%2D';
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out +=
      b <= 0x20 || b > 0x7e || b === 0x25
        ? '%' + b.toString(16).toUpperCase().padStart(2, '0')
        : String.fromCharCode(b);
  }
  return out;
}

/** The string a token stands for; throws on a malformed %-escape. */
export function decodeToken(t: string): string {
  if (t === '-') return '';
  if (!t.includes('%')) return t;
  const bytes: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i] !== '%') {
      bytes.push(t.charCodeAt(i));
      continue;
    }
    const hex = t.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`malformed token ${JSON.stringify(t)}`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeLine(tokens: (string | number)[]): string {
  return tokens.map((t) => encodeToken(String(t))).join(' ') + '\n';
}

/** A line's tokens, decoded; undefined when one is malformed. */
export function decodeLine(line: string): string[] | undefined {
  try {
    return line.trim().split(' ').filter(Boolean).map(decodeToken);
  } catch {
    return undefined;
  }
}

/** The container's process has exec'd. */
export interface StartedRecord {
  type: 'started';
  /** "" on a runc tether's status fd (it belongs to one container). */
  id: string;
  pid: number;
  startedNs: bigint;
}

/** The container's process has exited, or could not exec (`error`). */
export interface ExitedRecord {
  type: 'exited';
  id: string;
  /** 0..255; 128+N for death by signal N. */
  exitCode: number;
  signal: number;
  startedNs: bigint;
  finishedNs: bigint;
  /** The OOM killer struck in the container's cgroup (the agent's view; runc's tether: false). */
  oom: boolean;
  /** Why it could not start; "" when it ran. */
  error: string;
}

export type StatusRecord = StartedRecord | ExitedRecord;

// The sender may be a hostile guest: every number is checked for its range, not just parsed.
const uint = (s: string, max: number): number | undefined =>
  /^\d{1,10}$/.test(s) && Number(s) <= max ? Number(s) : undefined;
const ns = (s: string): bigint | undefined =>
  /^\d{1,20}$/.test(s) && BigInt(s) < 1n << 63n ? BigInt(s) : undefined;

/** A started or exited record from decoded tokens; undefined when it is not a valid one. */
export function parseStatusTokens(t: string[]): StatusRecord | undefined {
  if (t[0] === 'started' && t.length === TO_HOST.started + 1) {
    const pid = uint(t[2], 2 ** 31 - 1);
    const startedNs = ns(t[3]);
    if (pid === undefined || startedNs === undefined) return undefined;
    return { type: 'started', id: t[1], pid, startedNs };
  }
  if (t[0] === 'exited' && t.length === TO_HOST.exited + 1) {
    const exitCode = uint(t[2], 255);
    const signal = uint(t[3], 64);
    const startedNs = ns(t[4]);
    const finishedNs = ns(t[5]);
    if (
      exitCode === undefined ||
      signal === undefined ||
      startedNs === undefined ||
      finishedNs === undefined ||
      (t[6] !== '0' && t[6] !== '1')
    )
      return undefined;
    return {
      type: 'exited',
      id: t[1],
      exitCode,
      signal,
      startedNs,
      finishedNs,
      oom: t[6] === '1',
      error: t[7],
    };
  }
  return undefined;
}

/** The last started and the last exited record among lines (a runc tether's status file). */
export function lastRecords(text: string): { started?: StartedRecord; exited?: ExitedRecord } {
  const out: { started?: StartedRecord; exited?: ExitedRecord } = {};
  // Only whole lines count: a line without its '\n' is a write cut short (a full disk).
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) {
    const t = decodeLine(line);
    const r = t && parseStatusTokens(t);
    if (r?.type === 'started') out.started = r;
    else if (r?.type === 'exited') out.exited = r;
  }
  return out;
}
