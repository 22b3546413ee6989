// The host's end of a pod VM's control port (tether/protocol.h defines the protocol): a unix
// socket qemu serves, one line per message, tokens percent-encoded (core/protocol.ts). It is the
// only way a container's start and exit reach the host: nothing status-related is read from the
// guest's share.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { unavailable } from '../errors.js';
import {
  decodeLine,
  encodeLine,
  parseStatusTokens,
  TO_HOST,
  type ExitedRecord,
  type StartedRecord,
} from '../core/protocol.js';

export type AgentMessage =
  | { type: 'hello'; release: string }
  | StartedRecord
  | ExitedRecord
  | { type: 'error'; id: string; message: string };

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
    default:
      return parseStatusTokens(t);
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
