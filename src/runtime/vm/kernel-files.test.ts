import { describe, expect, it } from 'vitest';
import {
  dependencyOrder,
  findPayload,
  isElf,
  moduleDepends,
  stripModuleSignature,
} from './kernel-files.js';

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
});
