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

/**
 * True when a confirmed entry starts at `off`: a valid header whose message fits, followed by
 * another valid header (or, with `final`, by the end of the input). Used where a reader lands
 * at an arbitrary offset (the since seek, tail), where a lone header-shaped run of message
 * bytes must not be mistaken for an entry.
 */
function entryAt(view: DataView, off: number, end: number, final: boolean): boolean {
  const h = headerAt(view, off);
  if (h < 0) return false;
  const next = off + HEADER_LENGTH + (h >>> 1);
  if (next === end) return final;
  if (next + HEADER_LENGTH > end) return false;
  return headerAt(view, next) >= 0;
}

/** Offset of the first confirmed entry (see entryAt) in buf[from, end), or -1. */
export function findEntry(buf: Uint8Array, from: number, end: number, final: boolean): number {
  const view = viewOf(buf);
  for (let off = from; off + HEADER_LENGTH <= end; off++) {
    if (entryAt(view, off, end, final)) return off;
  }
  return -1;
}

/** How far to read from an arbitrary offset to be sure to find and confirm an entry there. */
export const PROBE_BYTES = 4 * (HEADER_LENGTH + MAX_MESSAGE);
