// How much one layer may expand to: a registry or a `docker load` archive is not trusted, and
// a few MiB of gzip or zstd can inflate to terabytes (a decompression bomb) or to millions of
// entries. Each limit is checked as the layer streams, so a bomb is refused after at most
// `ratioFloorBytes` written, never after filling the disk.
import { InvalidInputError } from './errors.js';

export interface LayerLimits {
  /** Uncompressed bytes of the tar (headers and all). */
  maxBytes: number;
  /** Entries (files, directories, links, whiteouts). */
  maxEntries: number;
  /**
   * Uncompressed bytes per compressed byte read so far; 0 turns the check off. Checked only
   * past `ratioFloorBytes`, so a small layer of a few zero-filled files is never refused.
   */
  maxRatio: number;
  ratioFloorBytes: number;
}

/** 64 GiB: beyond any image a node should run; a bigger layer is refused, not unpacked. */
export const MAX_LAYER_BYTES = 64 * 1024 ** 3;
/** A million entries: a full distribution image has a few tens of thousands. */
export const MAX_LAYER_ENTRIES = 1_000_000;
/**
 * Real layers compress 2–10 times; deflate cannot exceed about 1032:1 and zstd far more. 100:1
 * sustained past 256 MiB is a bomb, or a layer of huge zero-filled files (raise it then).
 */
export const MAX_LAYER_RATIO = 100;
export const LAYER_RATIO_FLOOR_BYTES = 256 * 1024 ** 2;

/**
 * `--max-layer-expansion`'s value: the ratio, a whole number of at least 2 (real layers need 10
 * at most), or 0 to turn the check off (the size and entry limits still hold).
 */
export function parseMaxLayerExpansion(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n === 0 || n >= 2))
    throw new InvalidInputError(
      `--max-layer-expansion ${JSON.stringify(raw)}: want a whole number of at least 2 (uncompressed bytes per compressed byte; default ${MAX_LAYER_RATIO}), or 0 for no limit`,
    );
  return n;
}

export const defaultLayerLimits: LayerLimits = {
  maxBytes: MAX_LAYER_BYTES,
  maxEntries: MAX_LAYER_ENTRIES,
  maxRatio: MAX_LAYER_RATIO,
  ratioFloorBytes: LAYER_RATIO_FLOOR_BYTES,
};

function size(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

/** Counts one layer's bytes and entries as they stream; throws once a limit is passed. */
export class LayerBudget {
  #bytes = 0;
  #entries = 0;

  constructor(
    readonly label: string,
    readonly limits: LayerLimits,
    /** Whether the layer is compressed (the ratio means nothing for a plain tar). */
    readonly compressed: boolean,
  ) {}

  /** `n` more uncompressed bytes, `compressedSoFar` compressed bytes read in all. */
  bytes(n: number, compressedSoFar: number): void {
    this.#bytes += n;
    const { maxBytes, maxRatio, ratioFloorBytes } = this.limits;
    if (this.#bytes > maxBytes)
      throw new InvalidInputError(
        `${this.label} is larger than ${size(maxBytes)} uncompressed: refused`,
      );
    if (
      this.compressed &&
      maxRatio > 0 &&
      this.#bytes > ratioFloorBytes &&
      this.#bytes > maxRatio * Math.max(compressedSoFar, 1)
    )
      throw new InvalidInputError(
        `${this.label} expands more than ${maxRatio} times (${size(this.#bytes)} from ${size(compressedSoFar)} compressed so far): refused as a decompression bomb`,
      );
  }

  /** One more entry. */
  entry(): void {
    if (++this.#entries > this.limits.maxEntries)
      throw new InvalidInputError(
        `${this.label} has more than ${this.limits.maxEntries} entries: refused`,
      );
  }
}
