// One SPDY stream as a Node Duplex: what it reads is the peer's DATA (ended by its FIN), what
// is written goes out as DATA frames (end() sends FIN). Either side may close its half alone;
// a reset (RST_STREAM, either way) ends both at once. There is no flow control: the Go peer
// (moby/spdystream) never sends WINDOW_UPDATE, so sends never wait on a window; received data
// is held back only by TCP (the session pauses the socket while a reader is full).
import { Duplex } from 'node:stream';
import { RstStatus } from './frames.js';
import type { SpdyHeaders } from './header-block.js';

/** What a stream needs of its session. */
export interface StreamOwner {
  sendReply(stream: SpdyStream, headers: SpdyHeaders, fin: boolean): Promise<void>;
  sendData(stream: SpdyStream, data: Buffer, fin: boolean): Promise<void>;
  sendReset(stream: SpdyStream, status: number): void;
  streamReadable(stream: SpdyStream): void;
  streamClosed(stream: SpdyStream): void;
}

/** Largest DATA frame this end sends. */
const MAX_DATA = 32 * 1024;

export class SpdyStream extends Duplex {
  /** The peer's headers on SYN_REPLY (for a stream this end opened), then any HEADERS. */
  replyHeaders: SpdyHeaders | undefined;
  /** Set once a SYN_REPLY went out (for a stream the peer opened). */
  replied = false;
  /** The peer sent FIN. */
  remoteClosed = false;
  /** This end sent FIN. */
  localClosed = false;
  /** The RST_STREAM status that ended it, either way. */
  resetStatus: number | undefined;

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    /** The headers of its SYN_STREAM. */
    readonly headers: SpdyHeaders,
    /** This end opened it (so there is no SYN_REPLY to send). */
    readonly local = false,
  ) {
    super({ allowHalfOpen: true });
    this.replied = local;
  }

  /** The first value of a header of its SYN_STREAM. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** Answers the peer's SYN_STREAM (once). `fin`: nothing will be written. */
  reply(headers: SpdyHeaders = {}, fin = false): Promise<void> {
    if (this.replied) return Promise.resolve();
    this.replied = true;
    if (fin) this.localClosed = true;
    return this.owner.sendReply(this, headers, fin);
  }

  /** Ends both halves at once and tells the peer (RST_STREAM). */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetStatus !== undefined || this.destroyed) return;
    this.resetStatus = status;
    this.owner.sendReset(this, status);
    this.destroy();
  }

  // ---- from the session ----

  /** DATA from the peer; false when the reader is full (the session pauses the socket). */
  onData(data: Buffer): boolean {
    return data.length === 0 ? true : this.push(data);
  }

  onRemoteFin(): void {
    this.remoteClosed = true;
    this.push(null);
    this.maybeDone();
  }

  onPeerReset(status: number): void {
    this.resetStatus = status;
    this.destroy();
  }

  // ---- Duplex ----

  override _read(): void {
    this.owner.streamReadable(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    void this.writeChunks(chunk).then(() => cb(), cb);
  }

  private async writeChunks(chunk: Buffer): Promise<void> {
    if (!this.replied) await this.reply();
    for (let off = 0; off < chunk.length; off += MAX_DATA)
      await this.owner.sendData(this, chunk.subarray(off, off + MAX_DATA), false);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const fin = async () => {
      if (!this.replied) return this.reply({}, true);
      if (this.localClosed) return;
      this.localClosed = true;
      await this.owner.sendData(this, Buffer.alloc(0), true);
    };
    void fin().then(
      () => {
        cb();
        this.maybeDone();
      },
      (e: Error) => cb(e),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Cut short before both halves closed: the peer is told (as a socket's destroy resets it),
    // or it would wait on the stream forever.
    if (this.resetStatus === undefined && !(this.localClosed && this.remoteClosed)) {
      this.resetStatus = RstStatus.CANCEL;
      this.owner.sendReset(this, RstStatus.CANCEL);
    }
    this.owner.streamClosed(this);
    cb(err);
  }

  private maybeDone(): void {
    if (this.remoteClosed && this.localClosed) this.owner.streamClosed(this);
  }
}
