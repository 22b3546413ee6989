// docker cp with the real docker CLI against `vch serve` (runc): a directory in and out intact,
// a file both ways, and a hostile container's symlinks (to the host's /etc, to a host directory)
// never followed on the host: the copy resolves in the container's own root. A path that is not
// there is 404, a malformed query 400, a container that does not run 409 (raw HTTP for those the
// CLI would not send).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupVch, ensureBuilt, startVch, type VchProcess } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;
/** A directory of the host's that the container's symlink names (it must never be reached). */
let hostDir: string;
const canary = `vic-cp-canary-${randomBytes(4).toString('hex')}`;

/** One raw request to the persona over its socket: status, headers, body. */
function http(
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: vch.socket, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A tree's files, links and modes, for comparing copies. */
function tree(dir: string, at = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, at)).sort()) {
    const rel = join(at, name);
    const st = lstatSync(join(dir, rel));
    const mode = (st.mode & 0o777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(join(dir, rel))}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      Object.assign(out, tree(dir, rel));
    } else out[rel] = `file ${mode} ${readFileSync(join(dir, rel)).toString('base64')}`;
  }
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-docker-cp-'));
  stateDir = join(work, 'state');
  hostDir = join(work, 'host-secret');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'secret'), 'host only\n');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), [
    '--insecure-registry',
    registry.host,
    '--runtime',
    'runc',
  ]);
  // The hostile container: links to the host's /etc and to a host directory, and a directory
  // of its own at that same host path (where a copy through the link must land).
  const script = [
    'for a in cat sleep mkdir ln; do busybox ln -s busybox /bin/$a; done',
    'ln -s /etc /hostetc',
    `ln -s ${hostDir} /hostdir`,
    'ln -s / /hostroot',
    `mkdir -p ${hostDir} /data`,
    'exec sleep 3600',
  ].join('; ');
  const r = await vch.docker(['run', '-d', '--name', 'box', image, 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(r.stderr);
  for (let i = 0; i < 100; i++) {
    if ((await vch.docker(['exec', 'box', 'ls', '/data'])).code === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 180_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  rmSync(join('/etc', canary), { force: true });
}, 60_000);

describe('docker cp against the VCH', () => {
  it('copies a directory in and out intact (files, modes, a symlink, nesting)', async () => {
    const src = join(work, 'tree');
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha\n');
    writeFileSync(join(src, 'sub', 'big.bin'), randomBytes(3 << 20));
    writeFileSync(join(src, 'sub', 'deeper', 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(src, 'sub', 'deeper', 'run.sh'), 0o755);
    symlinkSync('../a.txt', join(src, 'sub', 'link'));
    const into = await vch.docker(['cp', src, 'box:/data/']);
    expect(into.code, into.stderr).toBe(0);
    const inside = await vch.docker(['exec', 'box', 'cat', '/data/tree/sub/link']);
    expect(inside.stdout).toBe('alpha\n');
    const out = join(work, 'back');
    const back = await vch.docker(['cp', 'box:/data/tree', out]);
    expect(back.code, back.stderr).toBe(0);
    expect(tree(out)).toEqual(tree(src));
  }, 60_000);

  it('copies a file both ways', async () => {
    const f = join(work, 'one.txt');
    writeFileSync(f, 'one file\n');
    expect((await vch.docker(['cp', f, 'box:/data/renamed.txt'])).code).toBe(0);
    expect((await vch.docker(['exec', 'box', 'cat', '/data/renamed.txt'])).stdout).toBe(
      'one file\n',
    );
    const got = join(work, 'got.txt');
    const r = await vch.docker(['cp', 'box:/data/renamed.txt', got]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(got, 'utf8')).toBe('one file\n');
  });

  it('never follows a container’s symlink to the host’s /etc', async () => {
    // Into the link: the file lands in the container's /etc, never in the host's.
    const f = join(work, canary);
    writeFileSync(f, 'canary\n');
    const r = await vch.docker(['cp', f, 'box:/hostetc/']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join('/etc', canary))).toBe(false);
    expect((await vch.docker(['exec', 'box', 'cat', `/etc/${canary}`])).stdout).toBe('canary\n');
    // Out of it: the host's /etc/os-release is not the container's (it has none).
    expect(existsSync('/etc/os-release')).toBe(true);
    const out = join(work, 'os-release');
    const leak = await vch.docker(['cp', 'box:/hostetc/os-release', out]);
    expect(leak.code).not.toBe(0);
    expect(leak.stderr).toMatch(/Could not find the file \/hostetc\/os-release/);
    expect(existsSync(out)).toBe(false);
    const viaRoot = await http('GET', `/containers/box/archive?path=/hostroot${hostDir}/secret`);
    expect(viaRoot.status).toBe(404);
  });

  it('never follows a container’s symlink to a host directory, either way', async () => {
    const leak = await http('GET', '/containers/box/archive?path=/hostdir/secret');
    expect(leak.status).toBe(404);
    expect(leak.body).not.toContain('host only');
    // A tar put through the link lands in the container's directory of that path.
    const tarDir = join(work, 'put');
    mkdirSync(tarDir);
    writeFileSync(join(tarDir, 'dropped'), 'dropped\n');
    const tar = spawnSync('tar', ['-c', '-C', tarDir, 'dropped']).stdout;
    const put = await http('PUT', '/containers/box/archive?path=/hostdir', tar);
    expect(put.status, put.body).toBe(200);
    expect(existsSync(join(hostDir, 'dropped'))).toBe(false);
    expect((await vch.docker(['exec', 'box', 'cat', `${hostDir}/dropped`])).stdout).toBe(
      'dropped\n',
    );
  });

  it('answers the stat header for HEAD, a symlink with where it leads in the container', async () => {
    const r = await http('HEAD', '/containers/box/archive?path=/hostetc');
    expect(r.status).toBe(200);
    const stat = JSON.parse(
      Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString(),
    ) as { name: string; mode: number; linkTarget: string };
    expect(stat.name).toBe('hostetc');
    expect(stat.mode & (2 ** 27)).not.toBe(0); // Go's os.ModeSymlink
    expect(stat.linkTarget).toBe('/etc');
  });

  it('a path that is not there is 404, through the CLI and raw', async () => {
    const r = await vch.docker(['cp', 'box:/no/such/thing', join(work, 'x')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Could not find the file \/no\/such\/thing/);
    expect((await http('HEAD', '/containers/box/archive?path=/nope')).status).toBe(404);
    const put = await http('PUT', '/containers/box/archive?path=/nope', Buffer.alloc(1024));
    expect(put.status).toBe(404);
    expect((await http('GET', '/containers/nobox/archive?path=/data')).status).toBe(404);
  });

  it('a malformed query is 400 with one clear message', async () => {
    for (const [method, path] of [
      ['GET', '/containers/box/archive'],
      ['HEAD', '/containers/box/archive?path='],
      ['GET', '/containers/box/archive?path=/a&path=/b'],
      ['PUT', '/containers/box/archive?path=/data&copyUIDGID=maybe'],
      ['PUT', '/containers/box/archive?path=/data&noOverwriteDirNonDir=2'],
      ['GET', '/containers/box/archive?path=/data%00x'],
    ] as const) {
      const r = await http(method, path, method === 'PUT' ? Buffer.alloc(1024) : undefined);
      expect(r.status, `${method} ${path}: ${r.body}`).toBe(400);
      if (method !== 'HEAD') expect(JSON.parse(r.body).message).toMatch(/bad parameter/);
    }
    // Extracting onto a file, and a body that is no tar: 400 too.
    expect(
      (await http('PUT', '/containers/box/archive?path=/data/renamed.txt', Buffer.alloc(1024)))
        .status,
    ).toBe(400);
    const junk = await http('PUT', '/containers/box/archive?path=/data', randomBytes(4096));
    expect(junk.status, junk.body).toBe(400);
  });

  it('a container that does not run is 409 (docker cp needs it running here)', async () => {
    const r = await vch.docker(['create', '--name', 'idle', image, 'true']);
    expect(r.code, r.stderr).toBe(0);
    const h = await http('GET', '/containers/idle/archive?path=/');
    expect(h.status).toBe(409);
    expect(JSON.parse(h.body).message).toMatch(/not running/);
  });
});
