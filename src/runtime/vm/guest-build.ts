// The pod VM's guest, built on this host from Debian packages: the kernel of linux-image-amd64
// (unpacked from the .deb into a cache, never installed), and an initramfs holding the guest
// agent as /init, busybox-static, and the few kernel modules the guest needs. Built once per
// kernel version (the initramfs once per agent build), under ~/.cache/vic-kubelet/guest/.
//
//   <cache>/<kernel-version>/kernel          vmlinux (ELF, booted through the PVH entry: no
//                                            decompression in the guest, which costs seconds
//                                            under TCG) or the bzImage when that fails
//   <cache>/<kernel-version>/modules/*.ko    the modules, signatures stripped
//   <cache>/<kernel-version>/kernel.json     what is there; written last (a build is complete)
//   <cache>/<kernel-version>/initramfs-<hash>.cpio.gz
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { unavailable } from '../errors.js';
import { projectRoot } from '../paths.js';
import { cpioNewc, type CpioEntry } from './cpio.js';
import {
  dependencyOrder,
  findPayload,
  isElf,
  moduleDepends,
  stripModuleSignature,
  trimSegmentZeroTails,
} from './kernel-files.js';

const run = promisify(execFile);
const gzipAsync = promisify(gzip);

/**
 * The modules the guest loads: virtio over MMIO (qemu's microvm machine has no PCI), the console
 * (serial ports), 9p, and virtio_net (with the failover modules it depends on) for the pod's
 * interface on the VCH's bridge. Each costs boot time under TCG, so nothing more.
 */
export const GUEST_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_console',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
  'failover',
  'net_failover',
  'virtio_net',
];

/** Whether a cached kernel build has every module this version of the guest loads. */
function hasAllModules(m: KernelManifest): boolean {
  return GUEST_MODULES.every((name) => m.modules.includes(`${name}.ko`));
}

/** Bumped when the layout of the initramfs changes, so old cached ones are not used. */
const INITRAMFS_FORMAT = 1;

export interface Guest {
  kernelVersion: string;
  /** vmlinux (ELF) or bzImage. */
  kernel: string;
  kernelIsElf: boolean;
  initramfs: string;
  /** Milliseconds this call spent building (0: all cached). */
  buildMs: number;
}

export interface GuestBuildOptions {
  /** Default ~/.cache/vic-kubelet/guest (or $XDG_CACHE_HOME/vic-kubelet/guest). */
  cacheDir?: string;
  /** Default dist/tether/vic-agent of this project. */
  agentPath?: string;
  /** Default /bin/busybox (Debian's busybox-static). */
  busyboxPath?: string;
  /** Default: what linux-image-amd64 depends on, else the newest one in the cache. */
  kernelPackage?: string;
  progress?: (message: string) => void;
}

export function defaultGuestCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'vic-kubelet', 'guest');
}

export function defaultAgentPath(): string {
  return join(projectRoot(), 'dist', 'tether', 'vic-agent');
}

interface KernelManifest {
  version: string;
  kernel: string;
  kernelIsElf: boolean;
  modules: string[]; // file names under modules/, in load order
  /** The ELF kernel's segments no longer carry their zero tails (trimSegmentZeroTails). */
  zeroTailsTrimmed?: boolean;
}

/** Builds what is missing and returns the guest's files. */
export async function buildGuest(options: GuestBuildOptions = {}): Promise<Guest> {
  const t0 = Date.now();
  const cacheDir = options.cacheDir ?? defaultGuestCacheDir();
  const progress = options.progress ?? (() => undefined);
  const agentPath = options.agentPath ?? defaultAgentPath();
  const busyboxPath = options.busyboxPath ?? '/bin/busybox';
  const [agent, busybox] = await Promise.all([
    readFile(agentPath).catch(() => {
      throw unavailable(`no guest agent at ${agentPath}: run npm run build (tether/build.sh)`);
    }),
    readFile(busyboxPath).catch(() => {
      throw unavailable(`no ${busyboxPath}: install Debian's busybox-static`);
    }),
  ]);
  const pkg = options.kernelPackage ?? (await kernelPackage(cacheDir));
  const version = pkg.replace(/^linux-image-/, '');
  const dir = join(cacheDir, version);
  let manifest = await readManifest(dir);
  // A cache built by an older version lacks modules added since: built again (its kernel is the
  // same; the modules and kernel.json are brought up to date in place).
  if (!manifest || !hasAllModules(manifest)) {
    progress(`building the pod VM guest kernel ${version}`);
    manifest = await buildKernelDir(cacheDir, pkg, version);
  }
  if (manifest.kernelIsElf && !manifest.zeroTailsTrimmed)
    manifest = await trimKernel(dir, manifest);
  const modules = await Promise.all(
    manifest.modules.map(async (m) => ({ name: m, data: await readFile(join(dir, 'modules', m)) })),
  );
  const hash = createHash('sha256');
  hash.update(`format ${INITRAMFS_FORMAT}\n`).update(agent).update(busybox);
  for (const m of modules) hash.update(m.name).update(m.data);
  const initramfs = join(dir, `initramfs-${hash.digest('hex').slice(0, 16)}.cpio.gz`);
  if (!existsSync(initramfs)) {
    progress('building the pod VM initramfs');
    const entries: CpioEntry[] = [
      ...['bin', 'dev', 'proc', 'sys', 'containers', 'lib', 'lib/modules', 'tmp'].map(
        (p): CpioEntry => ({ type: 'dir', path: p }),
      ),
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
      { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
      { type: 'file', path: 'init', data: agent, mode: 0o755 },
      // For a person debugging a guest (the agent itself needs no shell).
      { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      ...modules.map((m): CpioEntry => ({
        type: 'file',
        path: `lib/modules/${m.name}`,
        data: m.data,
      })),
      {
        type: 'file',
        path: 'lib/modules/order',
        data: Buffer.from(modules.map((m) => m.name).join('\n') + '\n'),
      },
    ];
    // Level 1: the kernel unpacks it in the guest, where every cycle is emulated under TCG.
    // On libuv's pool: the VCH keeps answering while a first VM's guest is packed.
    await writeAtomic(initramfs, await gzipAsync(cpioNewc(entries), { level: 1 }));
    await pruneInitramfs(dir, basename(initramfs));
  } else {
    // Marks it in use, so another checkout's build (another agent) leaves it alone for a day.
    const now = new Date();
    await utimes(initramfs, now, now).catch(() => undefined);
  }
  return {
    kernelVersion: version,
    kernel: join(dir, manifest.kernel),
    kernelIsElf: manifest.kernelIsElf,
    initramfs,
    buildMs: Date.now() - t0,
  };
}

/**
 * Leaves the ELF kernel's zero tails out of its segments' file sizes, in place (a cache built
 * before this was done included): some 20 MiB less of every pod VM's qemu RSS. The file is
 * replaced by rename, so a qemu booting from it meanwhile keeps the one it opened, and a build
 * of this project without this step boots the trimmed file the same.
 */
async function trimKernel(dir: string, manifest: KernelManifest): Promise<KernelManifest> {
  const { elf, trimmed } = trimSegmentZeroTails(await readFile(join(dir, manifest.kernel)));
  if (trimmed > 0) await writeAtomic(join(dir, manifest.kernel), elf);
  const done = { ...manifest, zeroTailsTrimmed: true };
  await writeAtomic(join(dir, 'kernel.json'), Buffer.from(JSON.stringify(done, null, 1) + '\n'));
  return done;
}

async function readManifest(dir: string): Promise<KernelManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'kernel.json'), 'utf8')) as KernelManifest;
  } catch {
    return undefined;
  }
}

/**
 * The kernel package: the newest complete build in the cache, else linux-image-amd64's
 * dependency (asking apt costs seconds; a newer Debian kernel is picked up once the cache is
 * emptied).
 */
async function kernelPackage(cacheDir: string): Promise<string> {
  const cached: string[] = [];
  for (const v of await readdir(cacheDir).catch(() => [] as string[]))
    if (!v.startsWith('.') && (await readManifest(join(cacheDir, v)))) cached.push(v);
  cached.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (cached.length > 0) return `linux-image-${cached[cached.length - 1]}`;
  try {
    const { stdout } = await run('apt-cache', ['depends', 'linux-image-amd64']);
    const m = /Depends:\s*(linux-image-\S+-amd64)\b/.exec(stdout);
    if (m) return m[1];
  } catch {
    // No apt: said below.
  }
  throw unavailable(
    'cannot find the guest kernel package: apt-cache knows no linux-image-amd64 (run apt-get update)',
  );
}

async function buildKernelDir(
  cacheDir: string,
  pkg: string,
  version: string,
): Promise<KernelManifest> {
  await mkdir(cacheDir, { recursive: true });
  // Built in a temporary directory beside the final one and renamed into place: two builders
  // racing both finish, and one of the identical results wins.
  const work = await mkdtemp(join(cacheDir, `.build-${version}-`));
  const dl = await mkdtemp(join(tmpdir(), 'vic-guest-deb-'));
  try {
    try {
      await run('apt-get', ['download', pkg], { cwd: dl, maxBuffer: 1 << 24 });
    } catch (e) {
      throw unavailable(`apt-get download ${pkg} failed: ${errText(e)}`, e);
    }
    const deb = (await readdir(dl)).find((f) => f.endsWith('.deb'));
    if (!deb) throw unavailable(`apt-get download ${pkg} left no .deb`);
    const x = join(work, 'x');
    await mkdir(x);
    // Only the kernel, its config and our modules are unpacked (the package is ~400 MB unpacked).
    const patterns = [
      '*/boot/vmlinuz-*',
      '*/boot/config-*',
      ...GUEST_MODULES.map((m) => `*/kernel/*/${m}.ko*`),
    ];
    await pipeShell(
      `dpkg-deb --fsys-tarfile "$0" | tar -x -C "$1" --wildcards --no-anchored ${patterns
        .map((p) => `'${p}'`)
        .join(' ')}`,
      [join(dl, deb), x],
    );
    const boot = join(x, 'boot');
    const vmlinuz = join(boot, `vmlinuz-${version}`);
    const config = await readFile(join(boot, `config-${version}`), 'utf8').catch(() => '');
    const bzImage = await readFile(vmlinuz).catch(() => {
      throw unavailable(`${pkg} has no /boot/vmlinuz-${version}`);
    });
    let kernelIsElf = false;
    if (/^CONFIG_PVH=y$/m.test(config)) {
      const elf = await extractVmlinux(bzImage);
      if (elf) {
        await writeFile(join(work, 'kernel'), elf);
        kernelIsElf = true;
      }
    }
    if (!kernelIsElf) await writeFile(join(work, 'kernel'), bzImage);
    // Modules: find, decompress if needed, strip signatures, order by dependencies.
    const found = new Map<string, Buffer>();
    for (const f of await listFiles(x))
      for (const m of GUEST_MODULES) {
        const name = basename(f);
        if (name === `${m}.ko` || name.startsWith(`${m}.ko.`)) found.set(m, await readModule(f));
      }
    const missing = GUEST_MODULES.filter((m) => !found.has(m));
    if (missing.length > 0) throw unavailable(`${pkg} lacks modules: ${missing.join(', ')}`);
    const order = dependencyOrder(new Map([...found].map(([m, ko]) => [m, moduleDepends(ko)])));
    await mkdir(join(work, 'modules'));
    for (const m of order)
      await writeFile(join(work, 'modules', `${m}.ko`), stripModuleSignature(found.get(m)!));
    await rm(x, { recursive: true, force: true });
    const manifest: KernelManifest = {
      version,
      kernel: 'kernel',
      kernelIsElf,
      modules: order.map((m) => `${m}.ko`),
    };
    await writeFile(join(work, 'kernel.json'), JSON.stringify(manifest, null, 1) + '\n');
    const dir = join(cacheDir, version);
    await rename(work, dir).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      // Another builder finished first: keep theirs, unless it lacks modules (an older version's
      // build): then ours go in beside them, the module files before the kernel.json naming them,
      // so a reader never sees a module listed that is not there.
      const theirs = await readManifest(dir);
      if (theirs && !hasAllModules(theirs)) {
        await mkdir(join(dir, 'modules'), { recursive: true });
        for (const m of manifest.modules)
          await writeAtomic(join(dir, 'modules', m), await readFile(join(work, 'modules', m)));
        await writeAtomic(join(dir, 'kernel.json'), await readFile(join(work, 'kernel.json')));
      }
      await rm(work, { recursive: true, force: true });
    });
    return (await readManifest(dir)) ?? manifest;
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  } finally {
    await rm(dl, { recursive: true, force: true });
  }
}

/** The ELF kernel inside a bzImage, or undefined when no payload decompresses to one. */
async function extractVmlinux(bzImage: Buffer): Promise<Buffer | undefined> {
  for (const { kind, offset } of findPayload(bzImage)) {
    const tool =
      kind === 'xz'
        ? ['xz', '-dc', '--single-stream']
        : kind === 'zstd'
          ? ['zstd', '-dc']
          : ['gzip', '-dc'];
    const out = await decompress(tool, bzImage.subarray(offset)).catch(() => undefined);
    if (out && isElf(out)) return out;
  }
  return undefined;
}

async function readModule(path: string): Promise<Buffer> {
  const data = await readFile(path);
  if (path.endsWith('.xz')) return decompress(['xz', '-dc'], data);
  if (path.endsWith('.zst')) return decompress(['zstd', '-dc'], data);
  if (path.endsWith('.gz')) return decompress(['gzip', '-dc'], data);
  return data;
}

/** Runs a decompressor over data; the result even if it complains about trailing bytes. */
function decompress(cmd: string[], data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', reject);
    p.stdin.on('error', () => undefined); // it may stop reading at the end of the stream
    p.on('close', () =>
      chunks.length > 0
        ? resolve(Buffer.concat(chunks))
        : reject(new Error(`${cmd[0]} gave nothing`)),
    );
    p.stdin.end(data);
  });
}

function pipeShell(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', script, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(unavailable(`unpacking the kernel package failed: ${err.trim()}`)),
    );
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

async function writeAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** A day: another checkout of the project (a worktree, another branch) may still be using it. */
const INITRAMFS_KEEP_MS = 24 * 3600_000;

/**
 * Removes other agent builds' initramfs files unused for a day. Not at once: two checkouts with
 * different agents share this cache, and each used to delete the other's image under its VMs.
 */
async function pruneInitramfs(dir: string, keep: string): Promise<void> {
  const cutoff = Date.now() - INITRAMFS_KEEP_MS;
  for (const f of await readdir(dir)) {
    if (!f.startsWith('initramfs-') || f === keep) continue;
    const st = await stat(join(dir, f)).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) await rm(join(dir, f), { force: true });
  }
}

function errText(e: unknown): string {
  const stderr = (e as { stderr?: string }).stderr;
  return (stderr || (e as Error).message).trim().split('\n').pop() ?? '';
}
