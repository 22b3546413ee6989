// Hostile images against a real VCH (`vch serve`) and a real registry (Debian's
// docker-registry): a 10 GiB-uncompressed gzip layer bomb, a 100 MiB image config, and a
// token service that never ends its reply are each refused with one clear line, and the VCH's
// peak RSS (VmHWM, over its whole life) stays under 200 MiB. A VCH started with
// --max-layer-expansion holds layers to its ratio instead of the default.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gzipBomb, gzipBombDescriptor } from '../support/layer-bomb.js';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { type Registry, startRegistry } from './registry.js';

const MiB = 1024 ** 2;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

let work: string;
let registry: Registry;
let vch: VchProcess;
let tokenTrap: Server;

/** Uploads one blob (a monolithic PUT of a stream); resolves its digest. */
async function pushBlob(
  repo: string,
  body: () => Readable,
  digest: string,
  size: number,
): Promise<void> {
  const start = await fetch(`http://${registry.host}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
  });
  expect(start.status, await start.text()).toBe(202);
  const location = new URL(start.headers.get('location')!, `http://${registry.host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: Readable.toWeb(body()) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  expect(put.status, await put.text()).toBe(201);
}

async function pushManifest(repo: string, tag: string, manifest: unknown): Promise<void> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': ociManifest },
    body: JSON.stringify(manifest),
  });
  expect(res.status, await res.text()).toBe(201);
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A small config for `layers` layers (the diff_ids need not match: nothing gets that far). */
async function pushConfig(repo: string, layers: number) {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: Array(layers).fill(`sha256:${'0'.repeat(64)}`) },
    }),
  );
  await pushBlob(repo, () => Readable.from([config]), sha256(config), config.length);
  return {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: sha256(config),
    size: config.length,
  };
}

/** The VCH's peak resident set so far, in MiB. */
function peakRssMiB(): number {
  const status = readFileSync(`/proc/${vch.child.pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-image-limits-'));
  registry = await startRegistry();
  // A token service that sends bytes for as long as anyone reads them, behind a "registry"
  // that asks every client to fetch a token there.
  tokenTrap = createServer((req, res) => {
    if (req.url?.startsWith('/v2/')) {
      const realm = `http://127.0.0.1:${(tokenTrap.address() as { port: number }).port}/token`;
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}"` }).end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const more = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', more);
    };
    more();
  });
  await new Promise<void>((r) => tokenTrap.listen(0, '127.0.0.1', r));
  vch = await startVch(join(work, 'state'), join(work, 'docker.sock'));
}, 120_000);

afterAll(async () => {
  if (work) await cleanupVch(join(work, 'state'), vch);
  await registry?.stop();
  tokenTrap?.closeAllConnections();
  tokenTrap?.close();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

it('refuses a 10 GiB gzip layer bomb with one line, in bounded memory', async () => {
  const bytes = 10 * 1024 ** 3;
  const layer = gzipBombDescriptor(bytes);
  expect(layer.size).toBeLessThan(12 * MiB);
  await pushBlob('bomb', () => gzipBomb(bytes), layer.digest, layer.size);
  await pushManifest('bomb', '1', {
    schemaVersion: 2,
    mediaType: ociManifest,
    config: await pushConfig('bomb', 1),
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  });
  const pull = await vch.docker(['pull', `${registry.host}/bomb:1`], { timeoutMs: 120_000 });
  expect(pull.code).not.toBe(0);
  expect(pull.stderr).toMatch(
    new RegExp(
      `layer ${layer.digest} expands more than 100 times \\(256\\.\\d+ MiB from \\d+(\\.\\d)? KiB compressed so far\\): refused as a decompression bomb`,
    ),
  );
  expect(pull.stderr).not.toMatch(/\n\s+at /);
  expect(peakRssMiB()).toBeLessThan(200);
  // Nothing of the refused layer is kept.
  expect((await vch.docker(['images', '-q'])).stdout).toBe('');
}, 180_000);

it('--max-layer-expansion sets the ratio the unpack holds a layer to', async () => {
  const bytes = 10 * 1024 ** 3;
  const layer = gzipBombDescriptor(bytes);
  await pushBlob('bomb50', () => gzipBomb(bytes), layer.digest, layer.size);
  await pushManifest('bomb50', '1', {
    schemaVersion: 2,
    mediaType: ociManifest,
    config: await pushConfig('bomb50', 1),
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  });
  const state = join(work, 'state50');
  const strict = await startVch(state, join(work, 'docker50.sock'), [
    '--max-layer-expansion',
    '50',
  ]);
  try {
    const pull = await strict.docker(['pull', `${registry.host}/bomb50:1`], {
      timeoutMs: 120_000,
    });
    expect(pull.code).not.toBe(0);
    expect(pull.stderr).toMatch(
      new RegExp(`layer ${layer.digest} expands more than 50 times \\(256\\.\\d+ MiB from `),
    );
  } finally {
    await cleanupVch(state, strict);
  }
}, 180_000);

it('refuses a 100 MiB image config before reading it', async () => {
  const size = 100 * MiB;
  const zeros = Buffer.alloc(MiB);
  const hash = createHash('sha256');
  for (let i = 0; i < 100; i++) hash.update(zeros);
  const digest = `sha256:${hash.digest('hex')}`;
  await pushBlob('bigconfig', () => Readable.from(Array(100).fill(zeros)), digest, size);
  await pushManifest('bigconfig', '1', {
    schemaVersion: 2,
    mediaType: ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size },
    layers: [],
  });
  const pull = await vch.docker(['pull', `${registry.host}/bigconfig:1`]);
  expect(pull.code).not.toBe(0);
  expect(pull.stderr).toContain(
    `image config ${digest} is 104857600 bytes, more than the 4194304 allowed`,
  );
  expect(peakRssMiB()).toBeLessThan(200);
}, 120_000);

it('refuses an endless token reply', async () => {
  const port = (tokenTrap.address() as { port: number }).port;
  const pull = await vch.docker(['pull', `127.0.0.1:${port}/trap:1`], { timeoutMs: 60_000 });
  expect(pull.code).not.toBe(0);
  expect(pull.stderr).toContain(
    `token service http://127.0.0.1:${port} sent a reply larger than 1048576 bytes: refused`,
  );
  expect(peakRssMiB()).toBeLessThan(200);
}, 90_000);
