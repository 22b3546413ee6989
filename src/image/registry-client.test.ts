// The client's checks against a registry that misbehaves: a small HTTP server on loopback
// stands in for one (the real registry is in test/integration/image-registry.test.ts).
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChallenges } from './auth.js';
import { sha256Of } from './digest.js';
import { mediaTypes } from './media-types.js';
import { parseReference } from './reference.js';
import { RegistryClient, retryAfterMs } from './registry-client.js';

let server: Server;
let host: string;
const flaky = new Map<string, number>();
const body = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: [] }),
);

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/v2/bad/manifests/')) {
      // Claims a digest its body does not have.
      res.writeHead(200, {
        'content-type': mediaTypes.ociIndex,
        'docker-content-digest': `sha256:${'f'.repeat(64)}`,
      });
      res.end(body);
    } else if (req.url?.startsWith('/v2/flaky/')) {
      // Busy for the first two requests of each name, asking to come back at once.
      const n = (flaky.get(req.url) ?? 0) + 1;
      flaky.set(req.url, n);
      if (n <= 2) res.writeHead(503, { 'retry-after': '0' }).end();
      else res.writeHead(200, { 'content-type': mediaTypes.ociIndex }).end(body);
    } else if (req.url?.startsWith('/v2/later/')) {
      res.writeHead(429, { 'retry-after': '3600' }).end();
    } else if (req.url?.startsWith('/v2/cut/blobs/')) {
      // Promises 1000 bytes, sends 10, hangs up.
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.destroy(), 20);
    } else if (req.url?.startsWith('/v2/stall/blobs/')) {
      // Promises 1000 bytes, sends 10, then nothing (until the client gives up).
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    } else if (req.url?.startsWith('/v2/busy/')) {
      res.writeHead(503).end();
    } else {
      res.writeHead(200, { 'content-type': mediaTypes.ociIndex }).end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));

describe('RegistryClient', () => {
  const client = new RegistryClient();

  it('checks a manifest against the digest it was asked for', async () => {
    const other = `sha256:${'a'.repeat(64)}`;
    await expect(
      client.getManifest(parseReference(`${host}/good@${other}`), other),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: `digest mismatch for manifest ${host}/good@${other}: expected ${other}, content hashes to ${sha256Of(body)}`,
    });
    const ok = await client.getManifest(parseReference(`${host}/good:1`), '1');
    expect(ok.digest).toBe(sha256Of(body));
  });

  it("checks a tag's manifest against the registry's Docker-Content-Digest", async () => {
    await expect(client.getManifest(parseReference(`${host}/bad:1`), '1')).rejects.toThrow(
      /^digest mismatch for manifest .*bad:1: expected sha256:f{64}/,
    );
  });

  it('reports 5xx as Unavailable', async () => {
    await expect(client.getManifest(parseReference(`${host}/busy:1`), '1')).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `${host} answered 503 for manifest ${host}/busy:1`,
    });
  });

  it('retries a busy registry after its Retry-After; gives up on one that asks for hours', async () => {
    const ok = await client.getManifest(parseReference(`${host}/flaky:1`), '1');
    expect(ok.digest).toBe(sha256Of(body));
    expect(flaky.get('/v2/flaky/manifests/1')).toBe(3);
    const t0 = Date.now();
    await expect(client.getManifest(parseReference(`${host}/later:1`), '1')).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `${host} answered 429 for manifest ${host}/later:1`,
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    const once = new RegistryClient({ retries: 1 });
    await expect(once.getManifest(parseReference(`${host}/flaky:2`), '2')).rejects.toMatchObject({
      kind: 'Unavailable',
    });
  });

  it('reads Retry-After in seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  });

  it('a blob download that breaks off is Unavailable, in one line', async () => {
    const digest = `sha256:${'c'.repeat(64)}` as const;
    const chunks = await client.openBlob(parseReference(`${host}/cut:1`), digest);
    await expect(
      (async () => {
        let n = 0;
        for await (const c of chunks) n += c.length;
        return n;
      })(),
    ).rejects.toMatchObject({
      kind: 'Unavailable',
      message: expect.stringMatching(
        new RegExp(`^download of blob ${digest} from ${host} broke off: `),
      ),
    });
  });

  it('a blob download that stalls is Unavailable after the timeout', async () => {
    const digest = `sha256:${'d'.repeat(64)}` as const;
    const quick = new RegistryClient({ timeoutMs: 200 });
    const chunks = await quick.openBlob(parseReference(`${host}/stall:1`), digest);
    let got = 0;
    await expect(
      (async () => {
        for await (const c of chunks) got += c.length;
      })(),
    ).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `download of blob ${digest} from ${host} broke off: nothing arrived for 200 ms`,
    });
    expect(got).toBe(10);
  });

  it('uses https except for loopback and --insecure-registry hosts', () => {
    const c = new RegistryClient({ insecureRegistries: ['reg.lan:5000'] });
    expect(c.baseUrl('docker.io')).toBe('https://registry-1.docker.io');
    expect(c.baseUrl('quay.io')).toBe('https://quay.io');
    expect(c.baseUrl('reg.lan:5000')).toBe('http://reg.lan:5000');
    expect(c.baseUrl('localhost:5000')).toBe('http://localhost:5000');
    expect(c.baseUrl('[::1]:5000')).toBe('http://[::1]:5000');
  });
});

describe('parseChallenges', () => {
  it('reads Bearer and Basic challenges with quoted parameters', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
  });
});

describe('RegistryClient, credentials per call', () => {
  // A registry that wants basic auth for /v2/basic/ and bearer tokens from its /token realm
  // for /v2/token/; tokens are issued to alice only, named after the request that got them.
  let authServer: Server;
  let authHost: string;
  const seen: { path: string; authorization: string }[] = [];
  const alice = { username: 'alice', password: 's3cret' };
  const basicOf = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  let issued = 0;

  beforeAll(async () => {
    authServer = createServer((req, res) => {
      const authorization = req.headers.authorization ?? '';
      const path = (req.url ?? '').split('?')[0];
      seen.push({ path, authorization });
      if (path === '/token') {
        if (authorization !== basicOf('alice', 's3cret')) return void res.writeHead(401).end();
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ token: `t${++issued}`, expires_in: 300 }));
      }
      const ok =
        (path.startsWith('/v2/basic/') && authorization === basicOf('alice', 's3cret')) ||
        (path.startsWith('/v2/token/') && /^Bearer t\d+$/.test(authorization));
      if (!ok) {
        const challenge = path.startsWith('/v2/basic/')
          ? 'Basic realm="r"'
          : `Bearer realm="http://${authHost}/token",service="s"`;
        return void res.writeHead(401, { 'www-authenticate': challenge }).end();
      }
      res.writeHead(200, { 'content-type': mediaTypes.ociIndex }).end(body);
    });
    await new Promise<void>((r) => authServer.listen(0, '127.0.0.1', r));
    authHost = `127.0.0.1:${(authServer.address() as { port: number }).port}`;
  });
  afterAll(
    () => new Promise<void>((r) => (authServer.close(() => r()), authServer.closeAllConnections())),
  );

  it('basic: each call sends its own credentials, none when it has none', async () => {
    const client = new RegistryClient();
    const ref = parseReference(`${authHost}/basic/img:1`);
    await client.getManifest(ref, '1', alice);
    seen.length = 0;
    await expect(client.getManifest(ref, '1')).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: `unauthorized: manifest ${authHost}/basic/img:1 needs a username and password for ${authHost}`,
    });
    expect(seen).toEqual([{ path: '/v2/basic/img/manifests/1', authorization: '' }]);
    seen.length = 0;
    await expect(
      client.getManifest(ref, '1', { username: 'alice', password: 'x' }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/refused the credentials of alice/) });
    // The registry is known to want basic: the credentials go with the first request.
    expect(seen).toEqual([
      { path: '/v2/basic/img/manifests/1', authorization: basicOf('alice', 'x') },
    ]);
    seen.length = 0;
    await client.getManifest(ref, '1', alice);
    expect(seen).toEqual([
      { path: '/v2/basic/img/manifests/1', authorization: basicOf('alice', 's3cret') },
    ]);
  });

  it('bearer: a token serves only the credentials that earned it', async () => {
    const client = new RegistryClient();
    const ref = parseReference(`${authHost}/token/img:1`);
    await client.getManifest(ref, '1', alice);
    const tokens = issued;
    seen.length = 0;
    await expect(client.getManifest(ref, '1')).rejects.toMatchObject({
      message: expect.stringMatching(/refused anonymous access/),
    });
    await expect(
      client.getManifest(ref, '1', { username: 'alice', password: 'x' }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/refused the credentials of alice/) });
    // Neither sent alice's token.
    expect(seen.filter((s) => s.authorization.startsWith('Bearer'))).toEqual([]);
    seen.length = 0;
    await client.getManifest(ref, '1', alice);
    expect(seen).toEqual([
      { path: '/v2/token/img/manifests/1', authorization: `Bearer t${tokens}` },
    ]);
    expect(issued).toBe(tokens);
  });
});
