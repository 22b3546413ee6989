// A minimal client of QMP, qemu's JSON control protocol on a unix socket: used to add and remove
// a container's log port (chardev + virtserialport) while the VM runs, and to quit it.
import { connect, type Socket } from 'node:net';
import { unavailable } from '../errors.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class Qmp {
  private buf = '';
  private readonly queue: Pending[] = [];
  private greeted!: Promise<void>;

  private constructor(private readonly socket: Socket) {}

  /** Connects and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<Qmp> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      const timer = setTimeout(() => {
        s.destroy();
        reject(unavailable(`qmp ${path}: no answer`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(unavailable(`qmp ${path}: ${e.message}`, e));
      });
    });
    const qmp = new Qmp(socket);
    qmp.greeted = new Promise((resolve) =>
      qmp.queue.push({ resolve: () => resolve(), reject: () => resolve() }),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => qmp.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => qmp.failAll(unavailable('qmp: qemu closed the connection')));
    await qmp.greeted;
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      if (msg.event) continue; // events are not used
      const p = this.queue.shift();
      if (!p) continue;
      if (msg.error) p.reject(unavailable(`qmp: ${msg.error.desc ?? 'error'}`));
      else p.resolve(msg.return ?? msg.QMP);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.queue.splice(0)) p.reject(e);
  }

  /** Runs one command; commands are answered in order. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(unavailable('qmp: not connected'));
      this.queue.push({ resolve, reject });
      this.socket.write(
        JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n',
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
