// The one place a container's rootfs is a copy instead of an overlay of its image's layers:
// when the kernel refuses the overlay mount (no overlayfs, a file system it cannot stack on,
// more layers than it takes) or the layers cannot be named in one (paths with `,` or `:`).
// The layers (top first) are merged bottom up into the target as overlay would show them:
// a whiteout (character device 0:0) deletes the path below it, an opaque directory
// (trusted.overlay.opaque=y) hides everything below it, anything else replaces what is there.
// Each layer is copied with one `cp -a --reflink=auto` (cheap on file systems that share
// extents) after the target was made ready for it; nothing in a layer is followed or written.
import { type Stats } from 'node:fs';
import { lstat, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isWhiteout, opaqueXattr } from '../../image/overlay-diff.js';
import { execCommand as run } from '../../spawn/run-command.js';

/** Copies the merged view of `layers` (top first) into `target` (an empty directory). */
export async function copyLayers(layers: readonly string[], target: string): Promise<void> {
  for (const named of [...layers].reverse()) {
    // The store names layers by short links: walk the directory itself.
    const layer = await realpath(named);
    const entries: Entry[] = [];
    await walk(layer, '', entries);
    const opaque = await opaqueDirs(
      layer,
      entries.filter((e) => e.st.isDirectory()).map((e) => e.path),
    );
    const whiteouts = await prepare(target, entries, opaque);
    await run('cp', ['-a', '--reflink=auto', '--remove-destination', `${layer}/.`, target]);
    // cp copied the whiteouts themselves: they mean "nothing here".
    for (const w of whiteouts) await rm(join(target, w), { recursive: true, force: true });
  }
}

interface Entry {
  /** Relative to the layer. */
  path: string;
  st: Stats;
}

/** The entries of a layer, parents before their children. Links are not followed. */
async function walk(layer: string, rel: string, out: Entry[]): Promise<void> {
  for (const name of await readdir(join(layer, rel))) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(layer, path));
    out.push({ path, st });
    if (st.isDirectory()) await walk(layer, path, out);
  }
}

/**
 * Makes `target` ready for a layer's copy: deletes what its whiteouts delete, empties its
 * opaque directories, and removes what has another kind than the layer's entry (a directory
 * over a file, a file over a directory), which cp would refuse to replace. Returns the
 * layer's whiteouts.
 */
async function prepare(
  target: string,
  entries: readonly Entry[],
  opaque: ReadonlySet<string>,
): Promise<string[]> {
  const whiteouts: string[] = [];
  for (const { path, st } of entries) {
    const dst = join(target, path);
    const dt = await lstat(dst).catch(() => undefined);
    if (isWhiteout(st)) {
      whiteouts.push(path);
      if (dt) await rm(dst, { recursive: true, force: true });
    } else if (!st.isDirectory()) {
      if (dt?.isDirectory()) await rm(dst, { recursive: true, force: true });
    } else if (dt && (!dt.isDirectory() || opaque.has(path))) {
      await rm(dst, { recursive: true, force: true });
    }
  }
  return whiteouts;
}

/** Which of `dirs` (relative to `layer`) are marked opaque. getfattr, a few hundred a call. */
async function opaqueDirs(layer: string, dirs: readonly string[]): Promise<Set<string>> {
  const opaque = new Set<string>();
  const pattern = `^${opaqueXattr.replace(/\./g, '\\.')}$`;
  for (let i = 0; i < dirs.length; i += 500) {
    const batch = dirs.slice(i, i + 500);
    // -d with a pattern prints only the files that have the attribute.
    const { stdout } = await run(
      'getfattr',
      ['--absolute-names', '-d', '-e', 'text', '-m', pattern, ...batch.map((d) => join(layer, d))],
      { maxBuffer: 16 << 20 },
    );
    let file: string | undefined;
    for (const line of stdout.split('\n')) {
      if (line.startsWith('# file: ')) file = unescapeName(line.slice('# file: '.length));
      else if (file?.startsWith(`${layer}/`) && line === `${opaqueXattr}="y"`)
        opaque.add(file.slice(layer.length + 1));
    }
  }
  return opaque;
}

/** getfattr writes the unusual bytes of a name as \ooo, and a backslash as \\. */
function unescapeName(s: string): string {
  const raw = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c) {
      const oct = raw.subarray(i + 1, i + 4).toString('latin1');
      if (/^[0-7]{3}$/.test(oct)) {
        out.push(parseInt(oct, 8));
        i += 3;
        continue;
      }
      if (raw[i + 1] === 0x5c) {
        out.push(0x5c);
        i++;
        continue;
      }
    }
    out.push(raw[i]);
  }
  return Buffer.from(out).toString('utf8');
}
