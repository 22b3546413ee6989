// Pulls from registries that demand authentication: Debian's docker-registry with htpasswd
// basic auth, and the same registry with token auth, whose tokens come from a small token
// server written here (it signs ES256 JWTs with a key whose certificate the registry trusts).
// Credentials belong to each pull: one store serves pulls with, without and with other
// credentials, and each is authorized by its own only.
import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/index.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const run = promisify(execFile);
let work: string;
let layout: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vic-image-auth-'));
  layout = await buildBusyboxLayout(work);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  if (work) rmSync(work, { recursive: true, force: true });
});

type Creds = { username: string; password: string };

/** A fresh store whose pulls bring `creds` (or none). */
function store(creds?: Creds): { pull: (ref: string) => ReturnType<ImageStore['pull']> } {
  const s = new ImageStore(mkdtempSync(join(work, 'state-')));
  return { pull: (ref) => s.pull(ref, { ...(creds && { credentials: creds }) }) };
}

const alice = { username: 'alice', password: 's3cret' };
const bob = { username: 'bob', password: 'hunter2' };

describe('basic auth (htpasswd)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: { alice: 's3cret' } });
    cleanups.push(() => registry.stop());
    await pushImage(layout, 'busybox', `${registry.host}/busybox:test`, 'alice:s3cret');
  });

  it('pulls with the right credentials', async () => {
    const { layers } = await store(alice).pull(`${registry.host}/busybox:test`);
    expect(lstatSync(join(layers[0], 'bin/busybox')).isFile()).toBe(true);
  });

  it('refuses with a clear line without credentials or with wrong ones', async () => {
    await expect(store().pull(`${registry.host}/busybox:test`)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: `unauthorized: manifest ${registry.host}/busybox:test needs a username and password for ${registry.host}`,
    });
    await expect(
      store({ username: 'alice', password: 'wrong' }).pull(`${registry.host}/busybox:test`),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(
        /^unauthorized: 127\.0\.0\.1:\d+ refused the credentials of alice to 127\.0\.0\.1:\d+\/busybox/,
      ),
    });
  });

  it('on one store, each pull is authorized by its own credentials only', async () => {
    const s = new ImageStore(mkdtempSync(join(work, 'state-')));
    const ref = `${registry.host}/busybox:test`;
    const needs = `unauthorized: manifest ${ref} needs a username and password for ${registry.host}`;
    await expect(s.pull(ref)).rejects.toMatchObject({ kind: 'InvalidInput', message: needs });
    const first = await s.pull(ref, { credentials: alice });
    expect(first.fetchedBlobs).toBeGreaterThan(0);
    // The image is here now, but an explicit pull still asks the registry, with its own
    // credentials: none, or wrong ones, are refused.
    await expect(s.pull(ref)).rejects.toMatchObject({ message: needs });
    await expect(
      s.pull(ref, { credentials: { username: 'alice', password: 'wrong' } }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/refused the credentials of alice/) });
    // So is a pull by digest of what the store holds.
    const byDigest = `${registry.host}/busybox@${first.image.manifestDigest}`;
    await expect(s.pull(byDigest)).rejects.toMatchObject({ kind: 'InvalidInput' });
    expect((await s.pull(byDigest, { credentials: alice })).fetchedBlobs).toBe(0);
    expect((await s.pull(ref, { credentials: alice })).fetchedBlobs).toBe(0);
  });

  it('concurrent pulls with and without credentials: only the one with them succeeds', async () => {
    const s = new ImageStore(mkdtempSync(join(work, 'state-')));
    const ref = `${registry.host}/busybox:test`;
    const [without, withCreds, wrong] = await Promise.allSettled([
      s.pull(ref),
      s.pull(ref, { credentials: alice }),
      s.pull(ref, { credentials: { username: 'alice', password: 'nope' } }),
    ]);
    expect(without.status).toBe('rejected');
    expect(withCreds.status).toBe('fulfilled');
    expect(wrong.status).toBe('rejected');
  });
});

describe('bearer tokens (registry token auth, our token server)', () => {
  let registry: Registry;
  let tokenServer: Server;
  const tokenRequests: { scope: string | null; service: string | null; user: string }[] = [];

  beforeAll(async () => {
    // The signing key and its self-signed certificate, which the registry trusts.
    const key = join(work, 'token.key');
    const cert = join(work, 'token.crt');
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await run('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      key,
      '-subj',
      '/CN=vic-test-token-issuer',
      '-days',
      '1',
      '-out',
      cert,
    ]);
    const privateKey = createPrivateKey(readFileSync(key));
    const der = (
      await run('openssl', ['x509', '-in', cert, '-outform', 'DER'], { encoding: 'buffer' })
    ).stdout as unknown as Buffer;
    const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization ?? '';
      const [user, password] = auth.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString().split(':')
        : ['', ''];
      tokenRequests.push({
        scope: url.searchParams.get('scope'),
        service: url.searchParams.get('service'),
        user,
      });
      if (user !== 'bob' || password !== 'hunter2') {
        res.writeHead(401).end('{"details":"bad credentials"}');
        return;
      }
      const scope = url.searchParams.get('scope') ?? '';
      const [type, name, actions] = scope.split(':');
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] };
      const claims = {
        iss: 'vic-test-issuer',
        sub: user,
        aud: 'vic-test-registry',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access: type ? [{ type, name, actions: (actions ?? '').split(',') }] : [],
      };
      const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const signature = sign('sha256', Buffer.from(signingInput), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => tokenServer.close(() => r())));
    const port = (tokenServer.address() as { port: number }).port;
    registry = await startRegistry({
      token: {
        realm: `http://127.0.0.1:${port}/token`,
        service: 'vic-test-registry',
        issuer: 'vic-test-issuer',
        rootCertBundle: cert,
      },
    });
    cleanups.push(() => registry.stop());
    await pushImage(layout, 'busybox', `${registry.host}/team/busybox:test`, 'bob:hunter2');
  });

  it('answers the Bearer challenge with a token from the realm, and reuses it', async () => {
    tokenRequests.length = 0;
    const s = store(bob);
    const { layers } = await s.pull(`${registry.host}/team/busybox:test`);
    expect(lstatSync(join(layers[0], 'bin/busybox')).isFile()).toBe(true);
    // One token for the whole pull (manifest, config, layer), asked for the repository's
    // pull scope at the service the challenge named, with bob's credentials.
    expect(tokenRequests).toEqual([
      { scope: 'repository:team/busybox:pull', service: 'vic-test-registry', user: 'bob' },
    ]);
  });

  it('says which credentials the token service refused', async () => {
    await expect(
      store({ username: 'bob', password: 'nope' }).pull(`${registry.host}/team/busybox:test`),
    ).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(
        /^unauthorized: token service http:\/\/127\.0\.0\.1:\d+ refused the credentials of bob for manifest/,
      ),
    });
  });

  it('keeps tokens per credentials: a pull without them or with others never gets one', async () => {
    const s = new ImageStore(mkdtempSync(join(work, 'state-')));
    const ref = `${registry.host}/team/busybox:test`;
    tokenRequests.length = 0;
    await s.pull(ref, { credentials: bob });
    await expect(s.pull(ref)).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(/refused anonymous access for manifest/),
    });
    await expect(
      s.pull(ref, { credentials: { username: 'bob', password: 'wrong' } }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/refused the credentials of bob/) });
    // bob's token is still good: his next pull asks the token service nothing.
    expect((await s.pull(ref, { credentials: bob })).fetchedBlobs).toBe(0);
    expect(tokenRequests.map((r) => r.user)).toEqual(['bob', '', 'bob']);
  });
});
