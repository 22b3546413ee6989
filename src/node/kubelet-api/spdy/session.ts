// A SPDY/3.1 session over one connection: streams opened by either end, their frames in order,
// PING answered, SETTINGS and WINDOW_UPDATE taken and ignored (no flow control: see stream.ts).
// Anything malformed — a bad frame, a header block that does not decode or is too large, a
// stream id that goes backwards or is reused — ends the session with GOAWAY(PROTOCOL_ERROR)
// and closes the connection; it never throws out of here.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  encodeFrame,
  type Frame,
  FrameParser,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
} from './frames.js';
import { HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './header-block.js';
import { SpdyStream, type StreamOwner } from './stream.js';

export interface SpdySessionOptions {
  /** The server end opens even stream ids and answers the client's odd ones. */
  server: boolean;
  /** Largest frame accepted (bytes of payload). Default 1 MiB. */
  maxFrameLength?: number;
  /** Largest decompressed header block accepted. Default 256 KiB. */
  maxHeaderBytes?: number;
  /**
   * Streams the peer may have open at once; one more is reset with REFUSED_STREAM (the
   * session goes on). Default MAX_PEER_STREAMS.
   */
  maxPeerStreams?: number;
}

/**
 * The default cap on streams the peer has open in one session. A legit client opens few:
 * exec and attach five at most (error, stdin, stdout, stderr, resize), and port-forward two
 * per forwarded TCP connection (error and data; Go's client resets both when the connection
 * ends), so 1000 is 500 connections through one `kubectl port-forward` at once, far beyond
 * what one user's tools make, while a peer that opens streams without end is stopped well
 * before their buffers matter.
 */
export const MAX_PEER_STREAMS = 1000;

export interface SpdySessionEvents {
  /** The peer opened a stream (its SYN_STREAM headers are on it). */
  stream: [SpdyStream];
  /** The peer sent GOAWAY: it opens no more streams. */
  goaway: [number];
  /** The connection is gone; `error` says why if the protocol was broken. */
  close: [Error | undefined];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> implements StreamOwner {
  private readonly parser: FrameParser;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor: HeaderDecompressor;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly blocked = new Set<SpdyStream>();
  private readonly pings = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private out: Promise<void> = Promise.resolve();
  private inbound: Promise<void> = Promise.resolve();
  private lastPeerStreamId = 0;
  /** Streams the peer opened that are not closed yet (counted against maxPeerStreams). */
  private peerOpen = 0;
  private nextStreamId: number;
  private nextPingId: number;
  private goneAway = false;
  private closed = false;
  /** The peer's SETTINGS, kept for what they say (nothing here depends on them). */
  readonly peerSettings = new Map<number, number>();

  constructor(
    private readonly socket: Duplex,
    private readonly o: SpdySessionOptions,
  ) {
    super();
    this.parser = new FrameParser({ maxFrameLength: o.maxFrameLength });
    this.decompressor = new HeaderDecompressor(o.maxHeaderBytes);
    this.nextStreamId = o.server ? 2 : 1;
    this.nextPingId = o.server ? 2 : 1;
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('error', () => this.shutdown(undefined));
    // The frames that came before the end are handled first (their header blocks may still
    // be in zlib): a FIN just before the connection closes is not lost.
    const ended = () => void this.inbound.then(() => this.shutdown(undefined));
    socket.on('close', ended);
    socket.on('end', ended);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens a stream to the peer (the client side of tests and tools). */
  async openStream(headers: SpdyHeaders, fin = false): Promise<SpdyStream> {
    if (this.closed || this.goneAway) throw new Error('the SPDY session is closing');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, true);
    this.streams.set(id, stream);
    if (fin) stream.localClosed = true;
    await this.send(async () =>
      encodeFrame({
        type: 'syn_stream',
        streamId: id,
        associatedId: 0,
        priority: 0,
        slot: 0,
        fin,
        unidirectional: false,
        headerBlock: await this.compressor.compress(headers),
      }),
    );
    if (fin) stream.end();
    return stream;
  }

  /** Round trip of a PING to the peer, in ms. */
  async ping(): Promise<number> {
    const id = this.nextPingId;
    this.nextPingId = (this.nextPingId + 2) >>> 0;
    const start = performance.now();
    const answered = new Promise<void>((resolve, reject) =>
      this.pings.set(id, { resolve, reject }),
    );
    await this.send(() => encodeFrame({ type: 'ping', id }));
    await answered;
    return performance.now() - start;
  }

  /** Tells the peer no more streams will be taken, then closes once what is queued is sent. */
  async close(status: number = GoAwayStatus.OK): Promise<void> {
    if (this.closed) return;
    this.goneAway = true;
    await this.send(() =>
      encodeFrame({ type: 'goaway', lastGoodStreamId: this.lastPeerStreamId, status }),
    ).catch(() => undefined);
    this.socket.end();
    this.shutdown(undefined);
  }

  // ---- StreamOwner ----

  async sendReply(stream: SpdyStream, headers: SpdyHeaders, fin: boolean): Promise<void> {
    await this.send(async () =>
      encodeFrame({
        type: 'syn_reply',
        streamId: stream.id,
        fin,
        headerBlock: await this.compressor.compress(headers),
      }),
    );
  }

  async sendData(stream: SpdyStream, data: Buffer, fin: boolean): Promise<void> {
    await this.send(() => encodeFrame({ type: 'data', streamId: stream.id, fin, data }));
  }

  sendReset(stream: SpdyStream, status: number): void {
    void this.send(() => encodeFrame({ type: 'rst_stream', streamId: stream.id, status })).catch(
      () => undefined,
    );
  }

  streamReadable(stream: SpdyStream): void {
    if (this.blocked.delete(stream) && this.blocked.size === 0) this.socket.resume();
  }

  streamClosed(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      if (!stream.local) this.peerOpen--;
    }
    this.streamReadable(stream);
  }

  // ---- out ----

  /** Queues a frame: frames leave in the order they were queued, header blocks included. */
  private send(make: () => Buffer | Promise<Buffer>): Promise<void> {
    const op = this.out.then(async () => {
      if (this.closed) throw new Error('the SPDY session is closed');
      const frame = await make();
      await new Promise<void>((resolve, reject) =>
        this.socket.write(frame, (err) => (err ? reject(err) : resolve())),
      );
    });
    this.out = op.catch(() => undefined);
    return op;
  }

  // ---- in ----

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      return this.fail(err);
    }
    for (const f of frames) {
      this.inbound = this.inbound.then(() => (this.closed ? undefined : this.handle(f)));
    }
    this.inbound = this.inbound.catch((err: unknown) => this.fail(err));
  }

  private async handle(f: Frame): Promise<void> {
    switch (f.type) {
      case 'syn_stream':
        return this.onSynStream(f);
      case 'syn_reply':
      case 'headers': {
        const headers = await this.decompressor.decompress(f.headerBlock);
        const stream = this.streams.get(f.streamId);
        if (!stream) return this.resetUnknown(f.streamId, RstStatus.INVALID_STREAM);
        if (f.type === 'syn_reply') {
          if (!stream.local || stream.replyHeaders !== undefined)
            return stream.reset(RstStatus.STREAM_IN_USE);
          stream.replyHeaders = headers;
        } else {
          stream.replyHeaders = { ...stream.replyHeaders, ...headers };
        }
        stream.emit(f.type === 'syn_reply' ? 'reply' : 'headers', headers);
        if (f.fin) stream.onRemoteFin();
        return;
      }
      case 'data': {
        const stream = this.streams.get(f.streamId);
        if (!stream) return this.resetUnknown(f.streamId, RstStatus.INVALID_STREAM);
        if (stream.remoteClosed) return stream.reset(RstStatus.STREAM_ALREADY_CLOSED);
        if (!stream.onData(f.data) && !this.blocked.has(stream)) {
          this.blocked.add(stream);
          this.socket.pause();
        }
        if (f.fin) stream.onRemoteFin();
        return;
      }
      case 'rst_stream':
        this.streams.get(f.streamId)?.onPeerReset(f.status);
        return;
      case 'settings':
        if (f.clear) this.peerSettings.clear();
        for (const e of f.entries) this.peerSettings.set(e.id, e.value);
        return;
      case 'ping': {
        const ours = (f.id % 2 === 0) === this.o.server;
        if (ours) {
          this.pings.get(f.id)?.resolve();
          this.pings.delete(f.id);
        } else {
          await this.send(() => encodeFrame({ type: 'ping', id: f.id }));
        }
        return;
      }
      case 'goaway':
        this.goneAway = true;
        this.emit('goaway', f.status);
        return;
      case 'window_update':
      case 'unknown':
        // No flow control (see stream.ts); unknown control frames are ignored, as the spec says.
        return;
    }
  }

  private async onSynStream(f: Extract<Frame, { type: 'syn_stream' }>): Promise<void> {
    // The header block is decoded first even for a stream that is refused: the peer's
    // compression context moved on with it.
    const headers = await this.decompressor.decompress(f.headerBlock);
    const peerParity = this.o.server ? 1 : 0;
    if (f.streamId % 2 !== peerParity)
      throw new SpdyProtocolError(`SYN_STREAM with stream id ${f.streamId} of the wrong parity`);
    if (f.streamId <= this.lastPeerStreamId)
      throw new SpdyProtocolError(
        `SYN_STREAM reuses stream id ${f.streamId} (last was ${this.lastPeerStreamId})`,
      );
    this.lastPeerStreamId = f.streamId;
    if (this.goneAway) return this.resetUnknown(f.streamId, RstStatus.REFUSED_STREAM);
    // Too many open: this one is refused, as HTTP/2 refuses past MAX_CONCURRENT_STREAMS; the
    // peer may open it again once one of its streams has closed.
    if (this.peerOpen >= (this.o.maxPeerStreams ?? MAX_PEER_STREAMS))
      return this.resetUnknown(f.streamId, RstStatus.REFUSED_STREAM);
    const stream = new SpdyStream(this, f.streamId, headers);
    this.streams.set(f.streamId, stream);
    this.peerOpen++;
    if (f.fin || f.unidirectional) stream.onRemoteFin();
    this.emit('stream', stream);
  }

  private resetUnknown(streamId: number, status: number): void {
    void this.send(() => encodeFrame({ type: 'rst_stream', streamId, status })).catch(
      () => undefined,
    );
  }

  /** The peer broke the protocol: GOAWAY with the reason, then close. */
  private fail(err: unknown): void {
    if (this.closed) return;
    const status = err instanceof SpdyProtocolError ? err.status : GoAwayStatus.INTERNAL_ERROR;
    this.goneAway = true;
    const lastGoodStreamId = this.lastPeerStreamId;
    // Straight to the socket: whatever is queued no longer matters.
    if (!this.socket.destroyed && this.socket.writable)
      this.socket.end(encodeFrame({ type: 'goaway', lastGoodStreamId, status }));
    this.shutdown(err instanceof Error ? err : new Error(String(err)));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private shutdown(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    // A stream the peer finished keeps what it received for its reader; the others end now.
    for (const s of this.streams.values()) if (!s.remoteClosed || err) s.destroy();
    this.streams.clear();
    this.peerOpen = 0;
    for (const p of this.pings.values()) p.reject(new Error('the SPDY session closed'));
    this.pings.clear();
    this.compressor.close();
    this.decompressor.close();
    this.emit('close', err);
  }
}
