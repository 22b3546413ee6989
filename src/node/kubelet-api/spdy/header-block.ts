// SPDY/3 header blocks: the name/value block (a count, then length-prefixed names and values;
// several values of one name joined by NUL) and its compression — zlib primed with the SPDY/3
// dictionary, one context per direction for the whole session, each block ending on a
// Z_SYNC_FLUSH boundary so the peer can decode it at once.
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdyProtocolError } from './frames.js';

/** Header names (lower case) to their values. */
export type SpdyHeaders = Record<string, string[]>;

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n);
    return b;
  };
  const names = Object.keys(headers);
  parts.push(u32(names.length));
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(headers[name]!.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** The pairs of a decompressed block; SpdyProtocolError when it is malformed. */
export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  let off = 0;
  const u32 = (what: string) => {
    if (block.length - off < 4) throw new SpdyProtocolError(`header block cut short in ${what}`);
    const n = block.readUInt32BE(off);
    off += 4;
    return n;
  };
  const bytes = (n: number, what: string) => {
    if (block.length - off < n) throw new SpdyProtocolError(`header block cut short in ${what}`);
    const s = block.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  const count = u32('the pair count');
  // Each pair takes at least 8 bytes: a count beyond that is a lie, not a reason to loop.
  if (count > (block.length - off) / 8)
    throw new SpdyProtocolError(`header block claims ${count} pairs in ${block.length} bytes`);
  const headers: SpdyHeaders = Object.create(null) as SpdyHeaders;
  for (let i = 0; i < count; i++) {
    const name = bytes(u32('a name length'), 'a name').toLowerCase();
    if (name === '') throw new SpdyProtocolError('empty header name');
    if (Object.hasOwn(headers, name))
      throw new SpdyProtocolError(`header ${JSON.stringify(name)} appears twice`);
    headers[name] = bytes(u32('a value length'), 'a value').split('\0');
  }
  if (off !== block.length) throw new SpdyProtocolError('trailing bytes after the header block');
  return headers;
}

/**
 * One zlib context, fed one block at a time in order. Operations queue: a block is only
 * processed once the one before it is done, as the shared context requires.
 */
class ZContext {
  private chain: Promise<unknown> = Promise.resolve();
  private broken: Error | undefined;
  /** The operation under way: what it has produced so far and how it ends. */
  private current:
    { out: Buffer[]; size: number; limit: number; reject: (e: Error) => void } | undefined;

  constructor(private readonly z: Deflate | Inflate) {
    z.on('error', (e: Error) => {
      this.broken ??= e;
      this.current?.reject(e);
    });
    // Flowing: zlib holds back once its buffer is full, so the output is taken as it comes
    // (and a block that inflates past the limit is stopped there, not inflated whole).
    z.on('data', (c: Buffer) => {
      const cur = this.current;
      if (!cur) return;
      cur.out.push(c);
      cur.size += c.length;
      if (cur.size > cur.limit && !this.broken) {
        this.broken = new SpdyProtocolError(`header block of over ${cur.limit} bytes`);
        this.z.close();
        cur.reject(this.broken);
      }
    });
  }

  run(input: Buffer, limit: number): Promise<Buffer> {
    const op = this.chain.then(() => this.once(input, limit));
    this.chain = op.catch(() => undefined);
    return op;
  }

  private once(input: Buffer, limit: number): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<Buffer>((resolve, reject) => {
      const cur = { out: [] as Buffer[], size: 0, limit, reject };
      this.current = cur;
      this.z.write(input);
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        // Anything still buffered comes out through 'data' now.
        while (this.z.read() !== null);
        this.current = undefined;
        if (this.broken) return reject(this.broken);
        resolve(Buffer.concat(cur.out, cur.size));
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

/** Compresses this end's header blocks (the outgoing direction's context). */
export class HeaderCompressor {
  private readonly ctx = new ZContext(createDeflate({ dictionary: SPDY3_DICTIONARY }));

  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.ctx.run(encodeHeaderBlock(headers), Number.MAX_SAFE_INTEGER);
  }

  close(): void {
    this.ctx.close();
  }
}

/** Decompresses the peer's header blocks; a bad or oversized block is a SpdyProtocolError. */
export class HeaderDecompressor {
  private readonly ctx = new ZContext(createInflate({ dictionary: SPDY3_DICTIONARY }));

  constructor(private readonly maxBytes = 256 * 1024) {}

  async decompress(block: Buffer): Promise<SpdyHeaders> {
    let raw: Buffer;
    try {
      raw = await this.ctx.run(block, this.maxBytes);
    } catch (err) {
      if (err instanceof SpdyProtocolError) throw err;
      throw new SpdyProtocolError(`header block does not decompress: ${(err as Error).message}`);
    }
    return decodeHeaderBlock(raw);
  }

  close(): void {
    this.ctx.close();
  }
}
