// The host's end of a pod VM's control port (tether/protocol.h defines the protocol): a unix
// socket qemu serves, one line per message, tokens percent-encoded (core/protocol.ts). It is the
// only way a container's start and exit reach the host: nothing status-related is read from the
// guest's share.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { escapeControls } from '../../errdefs.js';
import { unavailable } from '../errors.js';
import {
  decodeLine,
  encodeLine,
  EXEC_CHUNK,
  parseStatusTokens,
  TO_HOST,
  type ExitedRecord,
  type StartedRecord,
} from '../core/protocol.js';

export type AgentMessage =
  | { type: 'hello'; release: string }
  | StartedRecord
  | ExitedRecord
  | { type: 'error'; id: string; message: string }
  | { type: 'rotate'; id: string; size: number }
  | ExecOutput
  | ExecExit
  | GuestStats
  | ConnectAnswer;

/** The agent's answer to connect: the connection on channel `chan` is made, or why not. */
export type ConnectAnswer =
  { type: 'connected'; chan: number } | { type: 'connfail'; chan: number; message: string };

/** A channel number as the protocol writes it (1..2^32-1, decimal); undefined otherwise. */
function parseChannel(t: string): number | undefined {
  if (!/^[1-9]\d{0,9}$/.test(t)) return undefined;
  const n = Number(t);
  return n <= 0xffffffff ? n : undefined;
}

/** A container's cgroup figures in the guest (the agent's answer to `stats`). */
export interface GuestStats {
  type: 'stats';
  id: string;
  usageUsec: number;
  current: number;
  /** undefined: no limit ("max"). */
  max?: number;
  inactiveFile: number;
  anon: number;
  pgfault: number;
  pgmajfault: number;
}

const COUNT = /^\d{1,19}$/;

/** The agent's numbers: decimal, non-negative (-1 is a figure it could not read: 0). */
function parseStatsTokens(t: string[]): GuestStats | undefined {
  if (t.length !== TO_HOST.stats + 1) return undefined;
  const n = (s: string) => (s === '-1' ? 0 : COUNT.test(s) ? Number(s) : NaN);
  const [usageUsec, current, inactiveFile, anon, pgfault, pgmajfault] = [
    t[2],
    t[3],
    t[5],
    t[6],
    t[7],
    t[8],
  ].map(n);
  const max = t[4] === 'max' ? undefined : n(t[4]);
  const all = [usageUsec, current, inactiveFile, anon, pgfault, pgmajfault, max ?? 0];
  if (all.some((x) => !Number.isSafeInteger(x))) return undefined;
  return {
    type: 'stats',
    id: t[1],
    usageUsec,
    current,
    ...(max !== undefined && { max }),
    inactiveFile,
    anon,
    pgfault,
    pgmajfault,
  };
}

/** A chunk of an exec's output (at most EXEC_CHUNK bytes). */
export interface ExecOutput {
  type: 'execout';
  id: string;
  execId: string;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** An exec is over: its exit code, or (error set) why it could not run. */
export interface ExecExit {
  type: 'execexit';
  id: string;
  execId: string;
  exitCode: number;
  error: string;
}

// The agent may be hostile: only well-formed base64 of at most EXEC_CHUNK bytes is output.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_CHUNK_TOKEN = Math.ceil(EXEC_CHUNK / 3) * 4;

function parseExecTokens(t: string[]): ExecOutput | ExecExit | undefined {
  if (t[0] === 'execout' && t.length === TO_HOST.execout + 1) {
    const stream = t[3] === '1' ? 'stdout' : t[3] === '2' ? 'stderr' : undefined;
    if (!stream || t[4].length > MAX_CHUNK_TOKEN || !BASE64.test(t[4])) return undefined;
    const data = Buffer.from(t[4], 'base64');
    if (data.length > EXEC_CHUNK) return undefined;
    return { type: 'execout', id: t[1], execId: t[2], stream, data };
  }
  if (t[0] === 'execexit' && t.length === TO_HOST.execexit + 1) {
    if (!/^\d{1,3}$/.test(t[3]) || Number(t[3]) > 255) return undefined;
    return { type: 'execexit', id: t[1], execId: t[2], exitCode: Number(t[3]), error: t[4] };
  }
  return undefined;
}

/** One line from the agent, or undefined when it is not one we know. */
export function parseAgentLine(line: string): AgentMessage | undefined {
  const t = decodeLine(line);
  if (!t) return undefined;
  switch (t[0]) {
    case 'hello':
      return t.length === TO_HOST.hello + 1 ? { type: 'hello', release: t[1] } : undefined;
    case 'error':
      return t.length === TO_HOST.error + 1
        ? { type: 'error', id: t[1], message: t[2] }
        : undefined;
    case 'rotate':
      return t.length === TO_HOST.rotate + 1 && /^\d{1,15}$/.test(t[2])
        ? { type: 'rotate', id: t[1], size: Number(t[2]) }
        : undefined;
    case 'execout':
    case 'execexit':
      return parseExecTokens(t);
    case 'stats':
      return parseStatsTokens(t);
    case 'connected': {
      const chan = t.length === TO_HOST.connected + 1 ? parseChannel(t[1]) : undefined;
      return chan === undefined ? undefined : { type: 'connected', chan };
    }
    case 'connfail': {
      const chan = t.length === TO_HOST.connfail + 1 ? parseChannel(t[1]) : undefined;
      // The message goes into an error the user sees: one line, of a sane length.
      const message = t[2] === undefined ? undefined : escapeControls(t[2]).slice(0, 512);
      return chan === undefined ? undefined : { type: 'connfail', chan, message: message! };
    }
    default:
      return parseStatusTokens(t);
  }
}

/** The longest line taken from the agent (its own are under 4 KiB: tether/agent-control.c). */
export const MAX_AGENT_LINE = 64 * 1024;

/**
 * A connection to the agent. Emits 'message' (AgentMessage) and 'close' (the socket is gone:
 * qemu exited, or closed it).
 */
export class ControlChannel extends EventEmitter {
  private buf = '';
  private skipping = false;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => this.onData(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
  }

  /** Over a connected socket (the runc tether's exec connection speaks the same lines). */
  static over(socket: Socket): ControlChannel {
    return new ControlChannel(socket);
  }

  static connect(path: string): Promise<ControlChannel> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new ControlChannel(s)));
      s.once('error', (e) => reject(unavailable(`pod VM control socket ${path}: ${e.message}`, e)));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      // The tail of a line that was too long is no message.
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const msg = parseAgentLine(line);
      if (msg) this.emit('message', msg);
    }
    // Not the agent talking (its lines are at most a few KiB): dropped to the next newline.
    if (this.buf.length > MAX_AGENT_LINE) {
      this.buf = '';
      this.skipping = true;
    }
  }

  send(tokens: (string | number)[]): void {
    if (this.closed) throw unavailable('the pod VM is not running (control channel closed)');
    this.socket.write(encodeLine(tokens));
  }

  /** The next message matching pred, or rejects after timeoutMs or when the channel closes. */
  next<T extends AgentMessage>(
    pred: (m: AgentMessage) => m is T,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: AgentMessage) => {
        if (!pred(m)) return;
        done();
        resolve(m);
      };
      const onClose = () => {
        done();
        reject(unavailable(`the pod VM went away while waiting for ${what}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(unavailable(`no ${what} from the pod VM within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.off('message', onMsg);
        this.off('close', onClose);
      };
      this.on('message', onMsg);
      this.on('close', onClose);
      if (this.closed) onClose();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
