import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLayer } from './unpack.js';
import { copyLayers } from '../runtime/core/layer-copy.js';
import { chunked, type TarSpec, tarArchive } from '../../test/support/tar.js';

let dir: string;
let root: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vic-unpack-'));
  root = join(dir, 'rootfs');
  outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host file\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function apply(entries: TarSpec[], opts: { gzip?: boolean; notes?: string[] } = {}) {
  const tar = tarArchive(entries);
  return applyLayer(root, chunked(opts.gzip ? gzipSync(tar) : tar), {
    compression: opts.gzip ? 'gzip' : 'none',
    name: 'sha256:test',
    onNote: (n) => opts.notes?.push(n),
  });
}

/** What the test directory outside the rootfs holds: must never change. */
function outsideListing(): string[] {
  return readdirSync(outside).sort();
}

describe('applyLayer', () => {
  it('writes files, directories, symlinks and hard links with their modes and times', async () => {
    const tar = tarArchive([
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/busybox', body: 'BB', mode: 0o4755, mtime: 1_600_000_000 },
      { name: 'bin/sh', type: '2', linkname: 'busybox' },
      { name: 'bin/ls', type: '1', linkname: 'bin/busybox' },
      { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644 },
      { name: 'tmp/', mode: 0o1777 },
    ]);
    const result = await applyLayer(root, chunked(tar), { compression: 'none' });
    expect(result.diffId).toBe(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    expect(result.entries).toBe(6);
    expect(readFileSync(join(root, 'bin/busybox'), 'utf8')).toBe('BB');
    const bb = statSync(join(root, 'bin/busybox'));
    expect(bb.mode & 0o7777).toBe(0o4755);
    expect(bb.mtimeMs).toBe(1_600_000_000_000);
    expect(readlinkSync(join(root, 'bin/sh'))).toBe('busybox');
    expect(statSync(join(root, 'bin/ls')).ino).toBe(bb.ino);
    expect(statSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    // etc/ had no entry of its own: created as a plain 0755 directory.
    expect(statSync(join(root, 'etc')).mode & 0o7777).toBe(0o755);
  });

  it('reads gzip layers and reports the digest of the uncompressed tar', async () => {
    const entries = [{ name: 'hello.txt', body: 'hi\n' }];
    const plain = tarArchive(entries);
    let read = 0;
    const result = await applyLayer(root, chunked(gzipSync(plain)), {
      compression: 'gzip',
      onProgress: (n) => (read = n),
    });
    expect(readFileSync(join(root, 'hello.txt'), 'utf8')).toBe('hi\n');
    expect(result.diffId).toBe(`sha256:${createHash('sha256').update(plain).digest('hex')}`);
    expect(read).toBe(gzipSync(plain).length);
  });

  it('reads zstd layers (through the zstd program), big enough for backpressure', async () => {
    const big = Buffer.alloc(4 << 20, 'zstd layer bytes ');
    const plain = tarArchive([
      { name: 'hello.txt', body: 'hi\n' },
      { name: 'big.bin', body: big },
    ]);
    const packed = execFileSync('zstd', ['-c', '-q'], { input: plain, maxBuffer: 64 << 20 });
    const result = await applyLayer(root, chunked(packed, 64 << 10), {
      compression: 'zstd',
      name: 'sha256:z',
    });
    expect(readFileSync(join(root, 'hello.txt'), 'utf8')).toBe('hi\n');
    expect(statSync(join(root, 'big.bin')).size).toBe(big.length);
    expect(result.diffId).toBe(`sha256:${createHash('sha256').update(plain).digest('hex')}`);
    await expect(
      applyLayer(root, chunked(Buffer.alloc(5000, 'not zstd ')), {
        compression: 'zstd',
        name: 'sha256:bad',
      }),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/^layer sha256:bad is not valid zstd: /),
    });
  });

  it('accepts a layer whose last entry lacks its padding and the end blocks', async () => {
    const whole = tarArchive([
      { name: 'a', body: 'first' },
      { name: 'b', body: 'last!' },
    ]);
    const cut = whole.subarray(0, 512 * 3 + 5);
    await applyLayer(root, chunked(cut), { compression: 'none' });
    expect(readFileSync(join(root, 'b'), 'utf8')).toBe('last!');
    // But data missing from the last entry is an error.
    await expect(
      applyLayer(root, chunked(whole.subarray(0, 512 * 3 + 3)), { compression: 'none' }),
    ).rejects.toThrow(/not a valid tar archive: Truncated input/);
  });

  it('accepts an empty layer (only end blocks)', async () => {
    const result = await applyLayer(root, chunked(Buffer.alloc(1024)), { compression: 'none' });
    expect(result.entries).toBe(0);
  });

  it('refuses a layer whose uncompressed digest differs from the config diff_id', async () => {
    const wrong = `sha256:${'0'.repeat(64)}` as const;
    await expect(
      applyLayer(root, chunked(tarArchive([{ name: 'a', body: 'x' }])), {
        compression: 'none',
        diffId: wrong,
      }),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/config says/),
    });
  });

  it('refuses data that is not a tar archive, or not gzip', async () => {
    await expect(
      applyLayer(root, chunked(Buffer.alloc(2048, 'garbage ')), { compression: 'none' }),
    ).rejects.toMatchObject({ kind: 'InvalidInput' });
    await expect(
      applyLayer(root, chunked(tarArchive([{ name: 'a', body: 'x' }])), { compression: 'gzip' }),
    ).rejects.toMatchObject({ kind: 'InvalidInput', message: expect.stringMatching(/gzip/) });
  });
});

describe('applyLayer refuses escapes', () => {
  it('a "../" entry name', async () => {
    await expect(apply([{ name: '../outside/evil', body: 'x' }])).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: 'layer sha256:test: entry "../outside/evil" refused: ".." component',
    });
    expect(outsideListing()).toEqual(['secret']);
  });

  it('a ".." in the middle of a name', async () => {
    await expect(apply([{ name: 'a/../../outside/evil', body: 'x' }])).rejects.toThrow(
      /refused: ".." component/,
    );
    expect(outsideListing()).toEqual(['secret']);
  });

  it('an absolute entry name is taken inside the rootfs', async () => {
    await apply([
      { name: '/', type: '5' },
      { name: `${outside}/evil`, body: 'x' },
    ]);
    expect(outsideListing()).toEqual(['secret']);
    expect(readFileSync(join(root, outside, 'evil'), 'utf8')).toBe('x');
  });

  it('a file written through an absolute symlink', async () => {
    await expect(
      apply([
        { name: 'evil', type: '2', linkname: outside },
        { name: 'evil/secret', body: 'overwritten' },
      ]),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(
        /entry "evil\/secret" refused: it would be written through symlink "evil" -> ".*", which points to an absolute path outside the rootfs/,
      ),
    });
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host file\n');
  });

  it('a file written through a relative symlink that climbs out', async () => {
    await expect(
      apply([
        { name: 'a/b/', type: '5' },
        { name: 'a/b/up', type: '2', linkname: '../../../outside' },
        { name: 'a/b/up/evil', body: 'x' },
      ]),
    ).rejects.toThrow(
      /written through symlink "a\/b\/up" -> "..\/..\/..\/outside", which leads out/,
    );
    expect(outsideListing()).toEqual(['secret']);
  });

  it('a chain of symlinks that ends outside', async () => {
    await expect(
      apply([
        { name: 'one', type: '2', linkname: 'two' },
        { name: 'two', type: '2', linkname: '..' },
        { name: 'one/outside/evil', body: 'x' },
      ]),
    ).rejects.toThrow(/leads out of the rootfs/);
    expect(outsideListing()).toEqual(['secret']);
  });

  it('a symlink loop', async () => {
    await expect(
      apply([
        { name: 'a', type: '2', linkname: 'b' },
        { name: 'b', type: '2', linkname: 'a' },
        { name: 'a/x', body: 'x' },
      ]),
    ).rejects.toThrow(/too many levels of symlinks/);
  });

  it('a symlink from a lower layer, written through by a later layer', async () => {
    await apply([{ name: 'etc', type: '2', linkname: outside }]);
    await expect(apply([{ name: 'etc/secret', body: 'pwned' }])).rejects.toThrow(/absolute path/);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host file\n');
  });

  it('a whiteout through an escaping symlink', async () => {
    await expect(
      apply([
        { name: 'evil', type: '2', linkname: outside },
        { name: 'evil/.wh.secret', body: '' },
      ]),
    ).rejects.toThrow(/absolute path/);
    expect(outsideListing()).toEqual(['secret']);
  });

  it('hard links to outside: "..", absolute, through a symlink', async () => {
    await expect(apply([{ name: 'h', type: '1', linkname: '../outside/secret' }])).rejects.toThrow(
      /entry "h" refused: hard link target "..\/outside\/secret": ".." component/,
    );
    // An absolute target names a path of the rootfs, which does not exist there.
    await expect(
      apply([{ name: 'h', type: '1', linkname: join(outside, 'secret') }]),
    ).rejects.toThrow(/hard link target ".*" does not exist/);
    await expect(
      apply([
        { name: 'out', type: '2', linkname: outside },
        { name: 'h', type: '1', linkname: 'out/secret' },
      ]),
    ).rejects.toThrow(/absolute path outside the rootfs/);
    expect(statSync(join(outside, 'secret')).nlink).toBe(1);
  });

  it('replaces (never follows) a symlink at the path of a file it writes', async () => {
    await apply([{ name: 'f', type: '2', linkname: join(outside, 'secret') }]);
    await apply([{ name: 'f', body: 'inside' }]);
    expect(lstatSync(join(root, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('inside');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host file\n');
  });

  it('replaces a symlink at the path of a directory entry', async () => {
    await apply([{ name: 'd', type: '2', linkname: outside }]);
    await apply([{ name: 'd/', mode: 0o700 }]);
    expect(lstatSync(join(root, 'd')).isDirectory()).toBe(true);
    expect(statSync(outside).mode & 0o777).not.toBe(0o700);
  });

  it('keeps absolute symlinks as they are (they mean paths inside the container)', async () => {
    await apply([{ name: 'bin/sh', type: '2', linkname: '/bin/busybox' }]);
    expect(readlinkSync(join(root, 'bin/sh'))).toBe('/bin/busybox');
  });

  it('follows relative symlinks that stay inside the rootfs', async () => {
    await apply([
      { name: 'usr/lib/', type: '5' },
      { name: 'lib', type: '2', linkname: 'usr/lib' },
      { name: 'usr/lib64', type: '2', linkname: '../lib' },
    ]);
    await apply([
      { name: 'lib/libc.so', body: 'libc' },
      { name: 'usr/lib64/ld.so', body: 'ld' },
    ]);
    expect(readFileSync(join(root, 'usr/lib/libc.so'), 'utf8')).toBe('libc');
    expect(readFileSync(join(root, 'usr/lib/ld.so'), 'utf8')).toBe('ld');
  });

  it('device nodes: created as root, skipped with a note otherwise', async () => {
    const notes: string[] = [];
    await apply(
      [
        { name: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'run/fifo', type: '6', mode: 0o600 },
      ],
      { notes },
    );
    expect(lstatSync(join(root, 'run/fifo')).isFIFO()).toBe(true);
    if (process.getuid?.() === 0) {
      const st = lstatSync(join(root, 'dev/null'));
      expect(st.isCharacterDevice() || notes.some((n) => n.startsWith('dev/null'))).toBe(true);
    } else {
      expect(existsSync(join(root, 'dev/null'))).toBe(false);
      expect(notes).toContain('dev/null: device node skipped (not running as root)');
    }
  });
});

/**
 * Unpacks `layers` (bottom first) each into its own directory, given those below, as the
 * snapshot store does; returns the layer directories, top first.
 */
async function unpackStack(layers: TarSpec[][], notes?: string[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const [i, entries] of layers.entries()) {
    const d = join(dir, `layer${i}`);
    mkdirSync(d);
    await applyLayer(d, chunked(tarArchive(entries)), {
      compression: 'none',
      name: `sha256:layer${i}`,
      lowers: [...dirs],
      onNote: (n) => notes?.push(n),
    });
    dirs.unshift(d);
  }
  return dirs;
}

/** What overlay shows of a stack of layer directories (top first), merged into a copy. */
async function merged(layers: string[]): Promise<string> {
  const out = join(dir, `merged-${readdirSync(dir).length}`);
  mkdirSync(out);
  await copyLayers(layers, out);
  return out;
}

const opaqueOf = (path: string) =>
  execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', path], {
    encoding: 'utf8',
  });

describe('applyLayer whiteouts and layer order', () => {
  it('a whiteout file becomes an overlay whiteout: the lower entry, file or directory, is gone', async () => {
    const layers = await unpackStack([
      [
        { name: 'a/x', body: 'x' },
        { name: 'a/y', body: 'y' },
        { name: 'b/deep/file', body: 'z' },
      ],
      [
        { name: 'a/.wh.x', body: '' },
        { name: '.wh.b', body: '' },
      ],
    ]);
    // The upper layer holds only its diff: two whiteouts, character devices 0:0.
    for (const w of ['a/x', 'b']) {
      const st = lstatSync(join(layers[0], w));
      expect(st.isCharacterDevice() && st.rdev === 0).toBe(true);
    }
    expect(existsSync(join(layers[0], 'a/y'))).toBe(false);
    expect(existsSync(join(layers[0], 'a/.wh.x'))).toBe(false);
    const view = await merged(layers);
    expect(readdirSync(join(view, 'a'))).toEqual(['y']);
    expect(existsSync(join(view, 'b'))).toBe(false);
  });

  it('an opaque directory hides everything the lower layers had in it', async () => {
    const layers = await unpackStack([
      [
        { name: 'd/old', body: 'old' },
        { name: 'd/sub/old2', body: 'old2' },
        { name: 'keep', body: 'k' },
      ],
      [
        { name: 'd/', type: '5' },
        { name: 'd/new', body: 'new' },
        { name: 'd/.wh..wh..opq', body: '' },
        { name: 'd/sub/new2', body: 'new2' },
      ],
    ]);
    expect(opaqueOf(join(layers[0], 'd'))).toBe('y');
    expect(readdirSync(join(layers[0], 'd')).sort()).toEqual(['new', 'sub']);
    const view = await merged(layers);
    expect(readdirSync(join(view, 'd')).sort()).toEqual(['new', 'sub']);
    expect(readdirSync(join(view, 'd/sub'))).toEqual(['new2']);
    expect(readFileSync(join(view, 'keep'), 'utf8')).toBe('k');
  });

  it('each layer directory holds only its own diff', async () => {
    const layers = await unpackStack([
      [{ name: 'bin/sh', body: 'shell' }],
      [{ name: 'etc/hostname', body: 'h' }],
    ]);
    expect(readdirSync(layers[0])).toEqual(['etc']);
    expect(readdirSync(layers[1])).toEqual(['bin']);
    const view = await merged(layers);
    expect(readdirSync(view).sort()).toEqual(['bin', 'etc']);
  });

  it('later layers replace earlier ones: dir → file → symlink → dir', async () => {
    const layers = await unpackStack([
      [{ name: 'p/inner', body: '1' }],
      [{ name: 'p', body: 'file now' }],
      [{ name: 'p', type: '2', linkname: 'target' }],
      [
        { name: 'p/', type: '5' },
        { name: 'p/again', body: '2' },
      ],
    ]);
    expect(readFileSync(join(await merged(layers.slice(2)), 'p'), 'utf8')).toBe('file now');
    expect(readlinkSync(join(await merged(layers.slice(1)), 'p'))).toBe('target');
    expect(readdirSync(join(await merged(layers), 'p'))).toEqual(['again']);
  });

  it('a later file replaces content and mode, dropping a setuid bit it does not have', async () => {
    const layers = await unpackStack([
      [{ name: 'bin/tool', body: 'v1', mode: 0o4755 }],
      [{ name: 'bin/tool', body: 'v2', mode: 0o755 }],
    ]);
    const view = await merged(layers);
    const st = statSync(join(view, 'bin/tool'));
    expect(readFileSync(join(view, 'bin/tool'), 'utf8')).toBe('v2');
    expect(st.mode & 0o7777).toBe(0o755);
  });

  it('a parent the tar does not list takes the mode and owner the lower layers give it', async () => {
    const layers = await unpackStack([
      [{ name: 'srv/', mode: 0o750, uid: 7, gid: 8 }],
      [{ name: 'srv/file', body: 'f' }],
    ]);
    const st = statSync(join(layers[0], 'srv'));
    expect(st.mode & 0o7777).toBe(0o750);
    if (process.getuid?.() === 0) expect([st.uid, st.gid]).toEqual([7, 8]);
  });

  it("a hard link to a lower layer's file gets a copy (overlay cannot link across layers)", async () => {
    const notes: string[] = [];
    const layers = await unpackStack(
      [
        [{ name: 'bin/busybox', body: 'bb', mode: 0o755 }],
        [{ name: 'bin/ls', type: '1', linkname: 'bin/busybox' }],
      ],
      notes,
    );
    expect(readFileSync(join(layers[0], 'bin/ls'), 'utf8')).toBe('bb');
    expect(notes).toContain("bin/ls: hard link to a lower layer's file, copied");
  });

  it("a lower layer's symlink is not followed: the path is the layer's own", async () => {
    const layers = await unpackStack([
      [{ name: 'etc', type: '2', linkname: outside }],
      [{ name: 'etc/secret', body: 'mine' }],
    ]);
    expect(readFileSync(join(layers[0], 'etc/secret'), 'utf8')).toBe('mine');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host file\n');
  });

  it('a character device 0:0 in the tar is skipped: it would read as a whiteout', async () => {
    const notes: string[] = [];
    const layers = await unpackStack(
      [[{ name: 'f', body: 'below' }], [{ name: 'f', type: '3', devmajor: 0, devminor: 0 }]],
      notes,
    );
    expect(existsSync(join(layers[0], 'f'))).toBe(false);
    expect(notes).toContain('f: character device 0:0 skipped (it would be an overlay whiteout)');
    expect(readFileSync(join(await merged(layers), 'f'), 'utf8')).toBe('below');
  });

  it('reads a gzip layer in small chunks with many entries', async () => {
    const entries: TarSpec[] = [];
    for (let i = 0; i < 200; i++)
      entries.push({ name: `many/f${i}`, body: `content ${i}\n`.repeat(i) });
    await apply(entries, { gzip: true });
    expect(readdirSync(join(root, 'many')).length).toBe(200);
    expect(readFileSync(join(root, 'many/f150'), 'utf8')).toBe('content 150\n'.repeat(150));
  });
});
