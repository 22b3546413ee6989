// Test helpers: hand-made tar archives, so tests can build layers a well-behaved tar writer
// would refuse to make (`../` names, absolute paths, escaping links). Not part of the build.
import { Readable } from 'node:stream';

export interface TarSpec {
  name: string;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' FIFO. */
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  body?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

function field(buf: Buffer, offset: number, length: number, value: string): void {
  if (Buffer.byteLength(value) > length) throw new Error(`tar field too long: ${value}`);
  buf.write(value, offset, length, 'utf8');
}

function octal(n: number, length: number): string {
  return n.toString(8).padStart(length - 1, '0');
}

/** One ustar header block and its padded body. */
export function tarEntry(spec: TarSpec): Buffer {
  const type = spec.type ?? (spec.name.endsWith('/') ? '5' : '0');
  const body = type === '0' ? Buffer.from(spec.body ?? '') : Buffer.alloc(0);
  const h = Buffer.alloc(512);
  field(h, 0, 100, spec.name);
  field(h, 100, 8, octal(spec.mode ?? (type === '5' ? 0o755 : 0o644), 8));
  field(h, 108, 8, octal(spec.uid ?? 0, 8));
  field(h, 116, 8, octal(spec.gid ?? 0, 8));
  field(h, 124, 12, octal(body.length, 12));
  field(h, 136, 12, octal(spec.mtime ?? 1_700_000_000, 12));
  field(h, 148, 8, '        ');
  field(h, 156, 1, type);
  field(h, 157, 100, spec.linkname ?? '');
  field(h, 257, 6, 'ustar');
  field(h, 263, 2, '00');
  field(h, 329, 8, octal(spec.devmajor ?? 0, 8));
  field(h, 337, 8, octal(spec.devminor ?? 0, 8));
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${octal(sum, 7)}\0`);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}

/** A whole tar archive: the entries and two zero blocks. */
export function tarArchive(entries: TarSpec[]): Buffer {
  return Buffer.concat([...entries.map(tarEntry), Buffer.alloc(1024)]);
}

/** A readable of `data` in small chunks, to exercise the parser's chunk boundaries. */
export function chunked(data: Buffer, size = 700): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}
