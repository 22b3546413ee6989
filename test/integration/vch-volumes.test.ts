// Volumes as a docker user meets them: `vic-kubelet vch serve` from the build and the real docker
// CLI over its socket, busybox from a real registry on loopback, containers in runc sandboxes.
// Named volumes keep data between containers, a volume in use cannot be removed, host paths,
// --mount, --tmpfs and read-only mounts work, prune removes only unused ones, a memory volume keeps its content across a VCH
// restart, and what is not supported is refused in one line.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch, stopVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let socket: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

async function ok(args: string[]): Promise<string> {
  const r = await vch.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** `docker run --rm` of a shell script: its output. */
const sh = (opts: string[], script: string) =>
  ok(['run', '--rm', ...opts, image, 'sh', '-c', script]);

const isMountedUnder = (dir: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => (l.split(' ')[4] ?? '').startsWith(dir + '/'));

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-volumes-'));
  stateDir = join(work, 'state');
  socket = join(work, 'docker.sock');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, socket, ['--insecure-registry', registry.host]);
  await ok(['pull', image]);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('docker volumes on the VCH', () => {
  it('docker run -v data:/d twice sees the same data; the volume is made on first use', async () => {
    await sh(['-v', 'data:/d'], 'echo kept > /d/file');
    const id = (await ok(['create', '-v', 'data:/d:ro', '--tmpfs', '/t', image, 'true'])).trim();
    expect(
      await ok([
        'inspect',
        '-f',
        '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}};{{end}}',
        id,
      ]),
    ).toBe('volume data /d false;\n');
    await ok(['rm', id]);
    expect(await sh(['-v', 'data:/d'], 'cat /d/file')).toBe('kept\n');
    const vols = await ok(['volume', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(vols.split('\n')).toContain('data local');
    const info = JSON.parse(await ok(['volume', 'inspect', 'data'])) as {
      Name: string;
      Mountpoint: string;
    }[];
    expect(info[0].Name).toBe('data');
    expect(readFileSync(join(info[0].Mountpoint, 'file'), 'utf8')).toBe('kept\n');
  }, 60_000);

  it('refuses to remove a volume in use, removes it once the container is gone', async () => {
    await ok(['volume', 'create', 'busy']);
    await ok(['run', '-d', '--name', 'user', '-v', 'busy:/b', image, 'sh', '-c', 'sleep 600']);
    const r = await vch.docker(['volume', 'rm', 'busy']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/volume is in use/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await ok(['rm', '-f', 'user']);
    await ok(['volume', 'rm', 'busy']);
    expect(await ok(['volume', 'ls', '-q'])).not.toContain('busy');
    const gone = await vch.docker(['volume', 'inspect', 'busy']);
    expect(gone.code).not.toBe(0);
  }, 60_000);

  it('docker volume prune: unused volumes only (-a for named ones), with the space reclaimed', async () => {
    await ok(['volume', 'create', '--label', 'prune=yes', 'spare']);
    await ok(['volume', 'create', '--label', 'prune=yes', 'held']);
    await sh(['-v', 'spare:/s'], 'head -c 300000 /dev/zero > /s/f');
    await ok(['run', '-d', '--name', 'holder', '-v', 'held:/h', image, 'sh', '-c', 'sleep 600']);
    // Since API 1.42 only anonymous volumes go without -a; this VCH makes none.
    expect(await ok(['volume', 'prune', '-f', '--filter', 'label=prune'])).toMatch(
      /Total reclaimed space: 0B/,
    );
    const out = await ok(['volume', 'prune', '-a', '-f', '--filter', 'label=prune=yes']);
    expect(out).toMatch(/Deleted Volumes:\nspare\n/);
    expect(out).not.toMatch(/held/);
    expect(out).toMatch(/Total reclaimed space: 30\d(\.\d+)?kB/);
    const left = (await ok(['volume', 'ls', '-q'])).split('\n');
    expect(left).toContain('held');
    expect(left).not.toContain('spare');
    const bad = await vch.docker(['volume', 'prune', '-f', '--filter', 'dangling=true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid filter 'dangling'/);
    await ok(['rm', '-f', 'holder']);
    await ok(['volume', 'rm', 'held']);
  }, 60_000);

  it('-v /hostdir:/p binds a host directory, read-write and read-only', async () => {
    const host = join(work, 'hostdir');
    mkdirSync(host);
    writeFileSync(join(host, 'from-host'), 'hello\n');
    expect(await sh(['-v', `${host}:/p`], 'cat /p/from-host; echo back > /p/from-container')).toBe(
      'hello\n',
    );
    expect(readFileSync(join(host, 'from-container'), 'utf8')).toBe('back\n');
    const ro = await vch.docker([
      'run',
      '--rm',
      '-v',
      `${host}:/p:ro`,
      image,
      'sh',
      '-c',
      'echo x > /p/no',
    ]);
    expect(ro.code).not.toBe(0);
    expect(existsSync(join(host, 'no'))).toBe(false);
    // --mount type=bind, readonly
    const m = await vch.docker([
      'run',
      '--rm',
      '--mount',
      `type=bind,source=${host},target=/m,readonly`,
      image,
      'sh',
      '-c',
      'cat /m/from-host && touch /m/no',
    ]);
    expect(m.stdout).toBe('hello\n');
    expect(m.code).not.toBe(0);
    expect(existsSync(join(host, 'no'))).toBe(false);
  }, 60_000);

  it('--tmpfs and --mount type=tmpfs are memory file systems, gone with the container', async () => {
    const out = await sh(
      ['--tmpfs', '/t:size=1m'],
      'grep " /t " /proc/mounts; echo x > /t/f && cat /t/f',
    );
    expect(out).toMatch(/^tmpfs \/t tmpfs .*size=1024k/m);
    expect(out).toMatch(/x\n$/);
    const m = await sh(['--mount', 'type=tmpfs,target=/mt'], 'grep " /mt " /proc/mounts');
    expect(m).toMatch(/^tmpfs \/mt tmpfs/);
    // The containers were --rm: their tmpfs volumes went with them.
    expect(await ok(['volume', 'ls', '-q'])).not.toMatch(/tmpfs-/);
    expect(isMountedUnder(join(stateDir, 'volumes'))).toBe(false);
  }, 60_000);

  it('--mount type=volume, read-only', async () => {
    await sh(['--mount', 'type=volume,source=mv,target=/v'], 'echo in > /v/f');
    const ro = await vch.docker([
      'run',
      '--rm',
      '--mount',
      'type=volume,source=mv,target=/v,readonly',
      image,
      'sh',
      '-c',
      'cat /v/f; echo y > /v/g',
    ]);
    expect(ro.stdout).toBe('in\n');
    expect(ro.code).not.toBe(0);
  }, 60_000);

  it('a tmpfs volume keeps its content across a VCH restart', async () => {
    await ok([
      'volume',
      'create',
      '--driver',
      'local',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      'o=size=2m',
      'mem',
    ]);
    await sh(['-v', 'mem:/m'], 'echo survives > /m/f; grep " /m " /proc/mounts');
    await stopVch(vch);
    vch = await startVch(stateDir, socket, ['--insecure-registry', registry.host]);
    expect(await sh(['-v', 'mem:/m'], 'cat /m/f')).toBe('survives\n');
    const mountpoint = (
      JSON.parse(await ok(['volume', 'inspect', 'mem'])) as { Mountpoint: string }[]
    )[0].Mountpoint;
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === mountpoint);
    expect(line).toMatch(/ - tmpfs /);
    await ok(['volume', 'rm', 'mem']);
    expect(existsSync(mountpoint)).toBe(false);
  }, 120_000);

  it('refuses what it does not support in one line', async () => {
    for (const [args, want] of [
      [['-v', 'x:/x:rshared'], /volume option "rshared" .* is not supported/],
      [
        ['--mount', 'type=volume,source=y,target=/y,volume-driver=nfs'],
        /volume driver "nfs" is not supported/,
      ],
      [['-v', '/anon'], /anonymous volumes are not supported/],
      [['--volume-driver', 'nfs', '-v', 'z:/z'], /volume driver "nfs" is not supported/],
    ] as [string[], RegExp][]) {
      const r = await vch.docker(['run', '--rm', ...args, image, 'true']);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(want);
    }
    const opt = await vch.docker(['volume', 'create', '--opt', 'type=nfs', 'n']);
    expect(opt.code).not.toBe(0);
    expect(opt.stderr).toMatch(/not supported/);
  }, 60_000);
});
