// The host's end of a pod VM's data port (tether/protocol.h, "the data port"): a unix socket
// qemu serves, carrying many channels at once, each an interactive exec's streams or one
// port-forward connection. Each channel is a Duplex here (its DATA; an exec's stderr beside it)
// with flow control both ways: the host sends a channel no more than the agent has credited
// back, and credits the agent's bytes only as the channel's reader takes them, so a slow reader
// holds up its own channel and no other, and never fills this process's memory.
//
// The guest may be hostile. It gets no say in channel numbers (the host hands them out and
// drops frames for any it does not have open), a channel it sends past its window is reset,
// and a frame that cannot be one closes the port (every channel then fails).
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Duplex, Readable } from 'node:stream';
import { unavailable } from '../errors.js';
import {
  BadFrameError,
  creditFrame,
  DATA_WINDOW,
  encodeFrame,
  FRAME,
  FRAME_MAX,
  FrameReader,
  MAX_CHANNEL,
  type Frame,
} from './data-frames.js';

/** Each of a channel's readables buffers this much before the credit it grants waits. */
const READ_HWM = 64 * 1024;

/** How the guest ended a channel's output. */
export type GuestEnd = 'eof' | 'reset' | 'gone';

/**
 * One channel: reading gives the guest's DATA, writing sends DATA (end(): EOF), destroy()
 * resets it. `stderr`: an exec's STDERR frames.
 */
export class DataChannel extends Duplex {
  readonly stderr: Readable;
  /** Resolves when the guest is done sending: its EOF, its RESET, or the port gone. */
  readonly guestEnd: Promise<GuestEnd>;
  private endGuest!: (how: GuestEnd) => void;
  private guestDone = false;
  private hostDone = false;
  /** Received and not yet credited back, per readable; their sum is what the guest has out. */
  private owed = { out: 0, err: 0 };
  /** What the guest may still be sent: nothing until it opens its side with a first credit. */
  private credit = 0;
  private opened = false;
  private waiting: (() => void) | undefined;
  /** An EOF asked for before the guest opened its side. */
  private eofWaiting: (() => void) | undefined;

  constructor(
    readonly id: number,
    private readonly mux: DataMux,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_HWM });
    this.stderr = new Readable({ highWaterMark: READ_HWM, read: () => this.grant('err') });
    this.guestEnd = new Promise((resolve) => (this.endGuest = resolve));
    this.on('error', () => undefined); // a user that wants errors listens; none is unhandled
    this.stderr.on('error', () => undefined);
  }

  override _read(): void {
    this.grant('out');
  }

  private grant(which: 'out' | 'err'): void {
    const n = this.owed[which];
    if (n === 0 || this.guestDone) return;
    this.owed[which] = 0;
    this.mux.write(creditFrame(this.id, n));
  }

  /** A frame from the guest for this channel. */
  onFrame(f: Frame): void {
    switch (f.type) {
      case FRAME.data:
      case FRAME.stderr: {
        if (this.guestDone) return;
        const outstanding = this.owed.out + this.owed.err + f.data.length;
        if (outstanding > DATA_WINDOW) return this.violation('sent past its window');
        const which = f.type === FRAME.data ? 'out' : 'err';
        this.owed[which] += f.data.length;
        const into = which === 'out' ? this : this.stderr;
        if (f.data.length && into.push(f.data) && this.owed[which] >= DATA_WINDOW / 4)
          this.grant(which);
        return;
      }
      case FRAME.eof:
        if (this.guestDone) return;
        this.guestDone = true;
        this.push(null);
        this.stderr.push(null);
        this.endGuest('eof');
        return this.maybeForget();
      case FRAME.credit: {
        if (f.data.length !== 4) return this.violation('sent a malformed credit');
        this.credit = Math.min(DATA_WINDOW, this.credit + f.data.readUInt32BE(0));
        this.opened = true;
        const e = this.eofWaiting;
        this.eofWaiting = undefined;
        const w = this.waiting;
        this.waiting = undefined;
        w?.();
        return e?.();
      }
      case FRAME.reset:
        // The agent has let it go: nothing more comes, and nothing needs saying back. An
        // error, not an end: what was sent may not have arrived (a port-forward's client must
        // not take a reset connection for a finished one).
        this.guestDone = true;
        this.hostDone = true;
        this.stderr.push(null);
        this.endGuest('reset');
        this.destroy(unavailable('the connection was reset inside the pod VM'));
        return;
      default:
        return this.violation(`sent a frame of unknown type ${f.type}`);
    }
  }

  private violation(why: string): void {
    this.mux.log?.(`pod VM data channel ${this.id}: the guest ${why}; resetting it`);
    this.destroy(unavailable(`the pod VM's data channel broke: the guest ${why}`));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sendFrom(chunk, 0, cb);
  }

  private sendFrom(chunk: Buffer, off: number, cb: (e?: Error | null) => void): void {
    while (off < chunk.length) {
      if (this.hostDone || this.destroyed) return cb(unavailable('the data channel is closed'));
      if (this.credit <= 0) {
        this.waiting = () => this.sendFrom(chunk, off, cb);
        return;
      }
      const n = Math.min(chunk.length - off, FRAME_MAX, this.credit);
      this.mux.write(encodeFrame(this.id, FRAME.data, chunk.subarray(off, off + n)));
      this.credit -= n;
      off += n;
    }
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    const send = () => {
      if (!this.hostDone) this.mux.write(encodeFrame(this.id, FRAME.eof));
      this.hostDone = true;
      this.maybeForget();
      cb();
    };
    // The agent drops frames for a channel it has not opened yet.
    if (this.opened || this.hostDone) send();
    else this.eofWaiting = send;
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    if (!(this.hostDone && this.guestDone)) {
      // Before the guest has opened its side, a RESET would be dropped: it goes at the opening.
      if (this.opened) this.mux.write(encodeFrame(this.id, FRAME.reset));
      else this.mux.resetWhenOpened(this.id);
    }
    this.hostDone = this.guestDone = true;
    this.mux.forget(this.id);
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    this.stderr.destroy();
    this.endGuest('gone');
    cb(err);
  }

  /** The port is gone: so is the channel. */
  portClosed(): void {
    this.guestDone = this.hostDone = true;
    this.destroy(unavailable('the pod VM went away (its data port closed)'));
  }

  private maybeForget(): void {
    if (this.guestDone && this.hostDone) this.mux.forget(this.id);
  }
}

/** The data port's connection. Emits 'close' once it is gone. */
export class DataMux extends EventEmitter {
  private readonly reader = new FrameReader();
  private readonly channels = new Map<number, DataChannel>();
  private next = 1;
  private closed = false;
  /** Where the mux says what the guest did wrong. */
  log?: (msg: string) => void;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  static connect(path: string): Promise<DataMux> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new DataMux(s)));
      s.once('error', (e) => reject(unavailable(`pod VM data socket ${path}: ${e.message}`, e)));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** How many channels are open (for tests and the curious). */
  get size(): number {
    return this.channels.size;
  }

  /** A new channel, numbered by the host (never reused on this connection). */
  open(): DataChannel {
    if (this.closed) throw unavailable('the pod VM is not running (its data port is closed)');
    if (this.next > MAX_CHANNEL)
      throw unavailable('the pod VM data port ran out of channel numbers');
    const ch = new DataChannel(this.next++, this);
    this.channels.set(ch.id, ch);
    return ch;
  }

  /** For the channels: a frame to the guest (dropped once the port is gone). */
  write(frame: Buffer): void {
    if (!this.closed) this.socket.write(frame);
  }

  /** Channels given up before the guest opened its side: reset when it does. */
  private readonly toReset = new Set<number>();

  resetWhenOpened(id: number): void {
    if (!this.closed) this.toReset.add(id);
  }

  /** For the channels: frames for it are dropped from now on. */
  forget(id: number): void {
    this.channels.delete(id);
  }

  /** Bytes from the guest (exported for the tests: the guest's side of the socket). */
  onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof BadFrameError)) throw e;
      this.log?.(`pod VM data port: the guest sent ${e.message}; closing the port`);
      this.close();
      return;
    }
    // A channel the host did not open, or has done with: dropped.
    for (const f of frames) {
      const ch = this.channels.get(f.chan);
      if (ch) ch.onFrame(f);
      else if (f.type === FRAME.credit && this.toReset.delete(f.chan))
        this.write(encodeFrame(f.chan, FRAME.reset));
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ch of [...this.channels.values()]) ch.portClosed();
    this.channels.clear();
    this.toReset.clear();
    this.emit('close');
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }
}
