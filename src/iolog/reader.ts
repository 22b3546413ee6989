// Decoding entries one by one, from a file or any byte stream (a serial port, a socket).

import { type StreamId, Timestamps } from './format.js';
import { type EntryHandler, scanEntries } from './scan.js';
import { openLog } from './fileio.js';

export interface LogEntry {
  /** Unix nanoseconds. */
  timestamp: bigint;
  stream: StreamId;
  message: Buffer;
}

/**
 * Yields the entries of an iolog file or byte stream in order. Junk between entries is skipped
 * as VIC's reader skips it; an entry cut short by the end of the input yields the bytes it has.
 */
export async function* readEntries(
  source: string | AsyncIterable<Uint8Array>,
): AsyncGenerator<LogEntry> {
  const input =
    typeof source === 'string'
      ? (await openLog(source, { followLinks: true })).createReadStream()
      : source;
  const collect = new Collector();
  let carry: Uint8Array = new Uint8Array(0);
  for await (const chunk of input) {
    const buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    const next = scanEntries(buf, 0, buf.length, false, collect);
    carry = buf.subarray(next);
    yield* collect.take();
  }
  scanEntries(carry, 0, carry.length, true, collect);
  yield* collect.take();
}

class Collector implements EntryHandler {
  private entries: LogEntry[] = [];
  private readonly ts = new Timestamps();

  onEntry(buf: Uint8Array, hdr: number, msg: number, size: number, stream: number): boolean {
    this.entries.push({
      timestamp: this.ts.read(buf, hdr),
      stream: stream as StreamId,
      message: Buffer.from(buf.subarray(msg, msg + size)),
    });
    return true;
  }

  take(): LogEntry[] {
    const e = this.entries;
    this.entries = [];
    return e;
  }
}
