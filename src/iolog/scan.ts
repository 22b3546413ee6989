// Finding entries in bytes: the one loop that every reader of the format shares (the entry
// reader, the query engine, the since and tail seeks).

import { HEADER_LENGTH, headerAt, MAX_MESSAGE, viewOf } from './format.js';

/** Receives the entries found by `scanEntries`. */
export interface EntryHandler {
  /**
   * One entry: its header at `hdr`, its message at buf[msg, msg + size). `size` is less than the
   * header's size only for an entry cut short by the end of the input. Return false to stop.
   */
  onEntry(buf: Uint8Array, hdr: number, msg: number, size: number, stream: number): boolean;
  /** Bytes skipped because they were not part of any entry (junk from a serial line, say). */
  onJunk?(bytes: number): void;
}

/**
 * Walks the entries in buf[start, end) and returns the offset where it stopped: `end`, the start
 * of an entry that is not complete yet (pass it again with more bytes after it), or just after
 * the entry the handler stopped at.
 *
 * After bytes that are not a header it moves forward one byte at a time until a valid header
 * starts, as VIC's reader does (with the stricter header check of `headerAt`). With `final`, no
 * more bytes will follow: an entry cut short is delivered with the bytes it has, and a tail
 * shorter than a header is junk.
 */
export function scanEntries(
  buf: Uint8Array,
  start: number,
  end: number,
  final: boolean,
  handler: EntryHandler,
): number {
  const view = viewOf(buf);
  let p = start;
  let junk = 0;
  while (p + HEADER_LENGTH <= end) {
    const h = headerAt(view, p);
    if (h < 0) {
      p++;
      junk++;
      continue;
    }
    if (junk > 0) {
      handler.onJunk?.(junk);
      junk = 0;
    }
    const msg = p + HEADER_LENGTH;
    let size = h >>> 1;
    if (msg + size > end) {
      if (!final) return p;
      size = end - msg;
    }
    if (!handler.onEntry(buf, p, msg, size, h & 1)) return msg + size;
    p = msg + size;
  }
  if (final && p < end) {
    junk += end - p;
    p = end;
  }
  if (junk > 0) handler.onJunk?.(junk);
  return p;
}

/** How many chained entries make an offset trustworthy (see findEntry). */
export const CHAIN = 4;

/**
 * Where a reader that lands at an arbitrary offset (the since seek, tail, a parallel block)
 * can trust that entries begin: the offset of the fourth entry of the first run of four chained
 * entries in buf[from, end) (each a valid header whose message fits and is followed by the
 * next), or, with `final`, of the last entry of a shorter run that ends exactly at `end`. -1 if
 * there is none.
 *
 * One confirmation is not enough: a message may itself hold a whole entry (a container that
 * prints a log of this format, say) ending where the real message ends, so a false start
 * chains onto the real entries after it. Counting from the fourth entry of a chain skips such
 * a false start; a message would have to hold four chained entries to fool it.
 */
export function findEntry(buf: Uint8Array, from: number, end: number, final: boolean): number {
  const view = viewOf(buf);
  for (let off = from; off + HEADER_LENGTH <= end; off++) {
    let at = off;
    let last = -1;
    for (let n = 0; n < CHAIN; n++) {
      if (at + HEADER_LENGTH > end) {
        if (at === end && final && last >= 0) return last;
        break;
      }
      const h = headerAt(view, at);
      if (h < 0) break;
      const next = at + HEADER_LENGTH + (h >>> 1);
      if (next > end) break;
      last = at;
      at = next;
      if (n === CHAIN - 1) return last;
    }
  }
  return -1;
}

/** How far to read from an arbitrary offset to find a trustworthy entry there (findEntry). */
export const PROBE_BYTES = (CHAIN + 2) * (HEADER_LENGTH + MAX_MESSAGE);
