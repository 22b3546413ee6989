import { describe, expect, it } from 'vitest';
import {
  dependencyOrder,
  findPayload,
  isElf,
  moduleDepends,
  stripModuleSignature,
  trimSegmentZeroTails,
} from './kernel-files.js';

/** A 64-bit little-endian ELF with one PT_LOAD per [offset, filesz] and a PT_NOTE. */
function elf64(size: number, loads: [number, number][]): Buffer {
  const b = Buffer.alloc(size);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2;
  b[5] = 1;
  b.writeBigUInt64LE(64n, 0x20);
  b.writeUInt16LE(56, 0x36);
  b.writeUInt16LE(loads.length + 1, 0x38);
  loads.forEach(([offset, filesz], i) => {
    const ph = 64 + i * 56;
    b.writeUInt32LE(1, ph);
    b.writeBigUInt64LE(BigInt(offset), ph + 8);
    b.writeBigUInt64LE(BigInt(filesz), ph + 32);
    b.writeBigUInt64LE(BigInt(filesz), ph + 40);
  });
  const note = 64 + loads.length * 56;
  b.writeUInt32LE(4, note);
  b.writeBigUInt64LE(0n, note + 8);
  b.writeBigUInt64LE(16n, note + 32);
  return b;
}

const fileSize = (b: Buffer, i: number) => Number(b.readBigUInt64LE(64 + i * 56 + 32));
const memSize = (b: Buffer, i: number) => Number(b.readBigUInt64LE(64 + i * 56 + 40));

describe('kernel files', () => {
  it('reads a module’s dependencies from its modinfo', () => {
    const ko = Buffer.concat([
      Buffer.from('\x7fELF....'),
      Buffer.from('license=GPL\0depends=virtio,9pnet,virtio_ring\0name=9pnet_virtio\0'),
    ]);
    expect(moduleDepends(ko)).toEqual(['virtio', '9pnet', 'virtio_ring']);
    expect(moduleDepends(Buffer.from('\0depends=\0name=x\0'))).toEqual([]);
    expect(moduleDepends(Buffer.from('nothing here'))).toEqual([]);
  });

  it('strips an appended signature and leaves unsigned modules alone', () => {
    const body = Buffer.from('module body');
    const sig = Buffer.alloc(40, 7);
    const info = Buffer.alloc(12);
    info.writeUInt32BE(sig.length, 8);
    const signed = Buffer.concat([body, sig, info, Buffer.from('~Module signature appended~\n')]);
    expect(stripModuleSignature(signed).equals(body)).toBe(true);
    expect(stripModuleSignature(body).equals(body)).toBe(true);
  });

  it('orders modules after their dependencies and names what is missing', () => {
    const order = dependencyOrder(
      new Map([
        ['9p', ['9pnet', 'fscache', 'netfs']],
        ['9pnet', []],
        ['fscache', ['netfs']],
        ['netfs', []],
        ['9pnet_virtio', ['virtio', '9pnet', 'virtio_ring']],
        ['virtio', ['virtio_ring']],
        ['virtio_ring', []],
      ]),
    );
    const at = (m: string) => order.indexOf(m);
    expect(order).toHaveLength(7);
    expect(at('netfs')).toBeLessThan(at('fscache'));
    expect(at('fscache')).toBeLessThan(at('9p'));
    expect(at('virtio_ring')).toBeLessThan(at('virtio'));
    expect(at('virtio')).toBeLessThan(at('9pnet_virtio'));
    expect(() => dependencyOrder(new Map([['a', ['b']]]))).toThrow(/b \(needed by a\)/);
    expect(() =>
      dependencyOrder(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
        ]),
      ),
    ).toThrow(/cycle/);
  });

  it('finds the compressed payload of a bzImage, earliest first', () => {
    const img = Buffer.concat([
      Buffer.alloc(100),
      Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
      Buffer.alloc(10),
    ]);
    expect(findPayload(img)[0]).toEqual({ kind: 'xz', offset: 100 });
    expect(findPayload(Buffer.alloc(10))).toEqual([]);
    expect(isElf(Buffer.from('\x7fELF\x02\x01'))).toBe(true);
    expect(isElf(Buffer.from('MZ....'))).toBe(false);
  });

  it("leaves loadable segments' zero tails out of their file size, page-aligned, memory size kept", () => {
    // Segment 0: data up to 4096 + 10, then zeros to 3 pages; segment 1: all data; segment 2:
    // all zeros.
    const k = elf64(8 * 4096, [
      [4096, 3 * 4096],
      [4 * 4096, 4096],
      [5 * 4096, 2 * 4096],
    ]);
    k.fill(1, 4096, 2 * 4096 + 10);
    k.fill(2, 4 * 4096, 5 * 4096);
    const { elf, trimmed } = trimSegmentZeroTails(k);
    expect([fileSize(elf, 0), fileSize(elf, 1), fileSize(elf, 2)]).toEqual([2 * 4096, 4096, 0]);
    expect([memSize(elf, 0), memSize(elf, 1), memSize(elf, 2)]).toEqual([3 * 4096, 4096, 2 * 4096]);
    expect(trimmed).toBe(4096 + 2 * 4096);
    // The PT_NOTE is not a loadable segment: untouched.
    expect(fileSize(elf, 3)).toBe(16);
    // The input is not changed; the bytes after the headers are the same.
    expect(fileSize(k, 0)).toBe(3 * 4096);
    expect(elf.subarray(4096).equals(k.subarray(4096))).toBe(true);
    // Trimmed again: nothing more to do.
    expect(trimSegmentZeroTails(elf).trimmed).toBe(0);
  });

  it('leaves anything but a 64-bit little-endian ELF as it is', () => {
    const k = elf64(4 * 4096, [[4096, 2 * 4096]]);
    const be = Buffer.from(k);
    be[5] = 2;
    const c32 = Buffer.from(k);
    c32[4] = 1;
    for (const b of [be, c32, Buffer.from('MZ not an elf'), Buffer.alloc(0)])
      expect(trimSegmentZeroTails(b)).toEqual({ elf: b, trimmed: 0 });
    // A header pointing past the end of the file: that segment is left alone.
    const short = elf64(2 * 4096, [[4096, 8 * 4096]]);
    expect(trimSegmentZeroTails(short).trimmed).toBe(0);
  });
});
