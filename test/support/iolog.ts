// Helpers shared by the iolog tests (not part of the package's API).
import { PassThrough } from 'node:stream';
import { steppingClock } from '../../src/iolog/clock.js';
import { LogWriter, type LogWriterOptions } from '../../src/iolog/writer.js';
import { type EntryHandler, scanEntries } from '../../src/iolog/scan.js';
import { Timestamps } from '../../src/iolog/format.js';

export const T0 = 1_700_000_000_000_000_000n;

/** A writer into memory with a stepping clock; `done()` closes it and returns the log. */
export function memoryWriter(options: LogWriterOptions = {}, step = 1000n) {
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
  const writer = new LogWriter(sink, { clock: steppingClock(T0, step), ...options });
  return {
    writer,
    async done(): Promise<Buffer> {
      await writer.close();
      return Buffer.concat(parts);
    },
  };
}

export interface DecodedEntry {
  offset: number;
  ts: bigint;
  stream: number;
  message: Buffer;
}

/** Every entry of a log in memory, with its offset. */
export function decodeAll(log: Uint8Array): DecodedEntry[] {
  const out: DecodedEntry[] = [];
  const ts = new Timestamps();
  const h: EntryHandler = {
    onEntry(buf, hdr, msg, size, stream) {
      out.push({
        offset: hdr,
        ts: ts.read(buf, hdr),
        stream,
        message: Buffer.from(buf.subarray(msg, msg + size)),
      });
      return true;
    },
  };
  scanEntries(log, 0, log.length, true, h);
  return out;
}
