// The host's end of a pod VM's control port (tether/agent.c documents the protocol): a unix
// socket qemu serves, one line per message, tokens percent-encoded. The channel only carries
// requests and news; what a container did is in its status files, which the runtime reads.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { unavailable } from '../errors.js';

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

export function decodeToken(t: string): string {
  if (t === '-') return '';
  const bytes: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i] !== '%') {
      bytes.push(t.charCodeAt(i));
      continue;
    }
    const v = parseInt(t.slice(i + 1, i + 3), 16);
    if (!/^[0-9a-fA-F]{2}$/.test(t.slice(i + 1, i + 3)) || Number.isNaN(v))
      throw new Error(`malformed token ${JSON.stringify(t)}`);
    bytes.push(v);
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeLine(tokens: (string | number)[]): string {
  return tokens.map((t) => encodeToken(String(t))).join(' ') + '\n';
}

export type AgentMessage =
  | { type: 'hello'; release: string }
  | { type: 'started'; id: string }
  | { type: 'exited'; id: string; code: number }
  | { type: 'error'; id: string; message: string };

/** One line from the agent, or undefined when it is not one we know. */
export function parseAgentLine(line: string): AgentMessage | undefined {
  let t: string[];
  try {
    t = line.trim().split(' ').filter(Boolean).map(decodeToken);
  } catch {
    return undefined;
  }
  switch (t[0]) {
    case 'hello':
      return t.length === 2 ? { type: 'hello', release: t[1] } : undefined;
    case 'started':
      return t.length === 2 ? { type: 'started', id: t[1] } : undefined;
    case 'exited':
      return t.length === 3 && /^-?\d+$/.test(t[2])
        ? { type: 'exited', id: t[1], code: Number(t[2]) }
        : undefined;
    case 'error':
      return t.length === 3 ? { type: 'error', id: t[1], message: t[2] } : undefined;
    default:
      return undefined;
  }
}

/**
 * A connection to the agent. Emits 'message' (AgentMessage) and 'close' (the socket is gone:
 * qemu exited, or closed it).
 */
export class ControlChannel extends EventEmitter {
  private buf = '';
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
      const msg = parseAgentLine(line);
      if (msg) this.emit('message', msg);
    }
    if (this.buf.length > 1 << 20) this.buf = ''; // not the agent talking
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
