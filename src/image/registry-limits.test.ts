// What a registry or token service sends is read with caps: an endless token reply, an endless
// error body and an oversized manifest end in one clear error, and a token realm over plain
// http is never sent credentials unless the registry is marked insecure. A small HTTP server
// on loopback stands in for the misbehaving registry.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError, UnavailableError } from './errors.js';
import { parseManifestDocument } from './manifest.js';
import { mediaTypes } from './media-types.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';

let server: Server;
let base: string;
const tokenRequests: (string | undefined)[] = [];

/** Writes 64 KiB chunks until the client goes away. */
function endless(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 << 10, 0x41);
  const more = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  res.once('close', () => res.off('drain', more));
  more();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/token')) {
      tokenRequests.push(req.headers.authorization);
      if (url.startsWith('/token-endless')) return endless(res, 200);
      return res.writeHead(200).end(JSON.stringify({ token: 'ok', expires_in: 300 }));
    }
    if (url.startsWith('/v2/') && !req.headers.authorization) {
      const realm = url.startsWith('/v2/endless-token/')
        ? `${base}/token-endless`
        : `${base}/token`;
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}"` }).end();
    }
    if (url.startsWith('/v2/endless-error/')) return endless(res, 404);
    if (url.startsWith('/v2/endless-manifest/')) return endless(res, 200);
    res.writeHead(200, { 'content-type': mediaTypes.ociIndex });
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));

const credentials = { username: 'alice', password: 's3cret' };
const loopback = () => base.slice('http://'.length);

describe('registry limits', () => {
  it('refuses an endless token reply after 1 MiB', async () => {
    const client = new RegistryClient();
    const ref = parseReference(`${loopback()}/endless-token:1`);
    const err = await client.getManifest(ref, '1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toBe(
      `token service ${base} sent a reply larger than 1048576 bytes: refused`,
    );
  });

  it('reads only the head of an endless error body', async () => {
    const ref = parseReference(`${loopback()}/endless-error:1`);
    const client = new RegistryClient({
      fetch: (url, init) =>
        fetch(url, { ...init, headers: { ...init?.headers, authorization: 'Bearer x' } }),
    });
    const err = await client.getManifest(ref, '1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(
      `manifest ${loopback()}/endless-error:1 not found in ${loopback()}`,
    );
  });

  it('refuses an endless manifest after 4 MiB', async () => {
    const ref = parseReference(`${loopback()}/endless-manifest:1`);
    const client = new RegistryClient({
      fetch: (url, init) =>
        fetch(url, { ...init, headers: { ...init?.headers, authorization: 'Bearer x' } }),
    });
    const err = await client.getManifest(ref, '1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/is larger than 4194304 bytes: refused$/);
  });

  // A registry named registry.test is reached over "https" at our loopback server.
  const remote = (insecureRegistries: string[] = []) =>
    new RegistryClient({
      insecureRegistries,
      fetch: (url, init) => fetch(String(url).replace(/^https?:\/\/registry\.test/, base), init),
    });

  it('refuses a token realm over plain http for a registry not marked insecure: no credentials sent', async () => {
    tokenRequests.length = 0;
    const ref = parseReference('registry.test/app:1');
    const err = await remote()
      .getManifest(ref, '1', credentials)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toBe(
      `unauthorized: registry.test names a token realm over plain http (${base}); refused unless the registry is marked insecure (--insecure-registry)`,
    );
    expect(tokenRequests).toEqual([]);
  });

  it('asks a plain http token realm of a registry marked insecure', async () => {
    tokenRequests.length = 0;
    const ref = parseReference('registry.test/app:1');
    const got = await remote(['registry.test']).getManifest(ref, '1', credentials);
    expect(got.bytes.length).toBeGreaterThan(0);
    expect(tokenRequests).toEqual([`Basic ${Buffer.from('alice:s3cret').toString('base64')}`]);
  });

  it('refuses a manifest whose config is larger than 4 MiB before fetching it', () => {
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: {
        mediaType: mediaTypes.ociConfig,
        digest: `sha256:${'c'.repeat(64)}`,
        size: 100 << 20,
      },
      layers: [],
    };
    expect(() => parseManifestDocument(Buffer.from(JSON.stringify(manifest)))).toThrow(
      `image config sha256:${'c'.repeat(64)} is 104857600 bytes, more than the 4194304 allowed`,
    );
  });
});
