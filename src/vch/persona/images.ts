// Image routes: pull (POST /images/create, a stream of Docker's JSON progress messages), load
// (POST /images/load, a tar body), list, inspect and remove.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Credentials, PullProgress } from '../../image/index.js';
import { invalidInput } from '../errors.js';
import type { Vch } from '../vch.js';
import { HttpError, oneLine, queryBool, readJson, sendJson, write } from './http.js';
import type { Router } from './router.js';
import { familiar, imageInspect, imageSummary } from './shapes.js';

/** Largest image archive `docker load` may send. */
const MAX_LOAD_BYTES = 16 * 1024 ** 3;

/** X-Registry-Auth: base64url JSON {username, password, …}; `{}` or absent is anonymous. */
export function parseRegistryAuth(header: string | string[] | undefined): Credentials | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(header.trim(), 'base64url').toString('utf8'));
  } catch {
    throw invalidInput('malformed X-Registry-Auth header: want base64url-encoded JSON');
  }
  if (typeof doc !== 'object' || doc === null)
    throw invalidInput('malformed X-Registry-Auth header');
  const a = doc as Record<string, unknown>;
  if (typeof a.username === 'string' && typeof a.password === 'string' && a.username !== '')
    return { username: a.username, password: a.password };
  if (typeof a.auth === 'string' && a.auth !== '') {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  return undefined;
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1).replace(/\.?0+$/, '')}${units[i]}`;
}

/** Docker's progress text: `[=====>      ]  1.2MB/3.4MB`. */
function progressBar(current: number, total: number | undefined): string {
  if (!total) return humanSize(current);
  const width = 50;
  const done = Math.min(width, Math.floor((current / total) * width));
  const bar = `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}]`;
  return `${bar}  ${humanSize(current)}/${humanSize(total)}`;
}

const STATUS_TEXT: Record<PullProgress['status'], string> = {
  Resolving: 'Pulling from',
  Waiting: 'Pulling fs layer',
  Downloading: 'Downloading',
  Verifying: 'Verifying Checksum',
  'Download complete': 'Download complete',
  'Already exists': 'Already exists',
  Extracting: 'Extracting',
  'Pull complete': 'Pull complete',
};

/** `https://index.docker.io/v1/`, `127.0.0.1:5000`, `http://host:5000/` → the registry host. */
export function registryHost(serverAddress: string): string {
  const host = serverAddress.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  if (host === '' || host === 'index.docker.io' || host === 'registry-1.docker.io')
    return 'docker.io';
  return host;
}

/** The reference a pull names: fromImage with tag (or digest) appended as Docker does. */
export function pullReference(fromImage: string | null, tag: string | null): string {
  if (!fromImage)
    throw invalidInput('fromImage is required (importing from a source is not supported)');
  if (!tag) return fromImage;
  if (/^[a-z0-9]+:[0-9a-f]+$/.test(tag)) return `${fromImage}@${tag}`;
  // fromImage may carry its own tag already (`busybox:1` with tag "1" from older clients).
  const lastSlash = fromImage.lastIndexOf('/');
  if (fromImage.lastIndexOf(':') > lastSlash) return fromImage;
  return `${fromImage}:${tag}`;
}

/** Streams JSON messages, one per line; errors after the headers go in the stream. */
class JsonStream {
  started = false;
  constructor(readonly res: ServerResponse) {}
  async send(msg: Record<string, unknown>): Promise<boolean> {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    return write(this.res, `${JSON.stringify(msg)}\n`);
  }
  async fail(err: unknown): Promise<void> {
    const message = oneLine(err);
    await this.send({ errorDetail: { message }, error: message });
    this.res.end();
  }
}

export function addImageRoutes(router: Router, vch: Vch, tmpDir: string): void {
  router.add('POST', '/images/create', async ({ req, res, query }) => {
    if (query.get('fromSrc')) throw invalidInput('importing images (fromSrc) is not supported');
    const reference = pullReference(query.get('fromImage'), query.get('tag'));
    const credentials = parseRegistryAuth(req.headers['x-registry-auth']);
    const out = new JsonStream(res);
    // Progress events come synchronously from the store; writes are queued in order, and a
    // client that stops reading just makes the queue wait (the pull itself is not held up).
    let queue: Promise<unknown> = Promise.resolve();
    const send = (msg: Record<string, unknown>) => {
      queue = queue.then(() => out.send(msg));
    };
    const present = new Set<string>();
    try {
      const pulled = await vch.pullImage({
        reference,
        ...(credentials && { credentials }),
        onProgress: (e) => {
          // Docker says nothing more of a layer it already had.
          if (e.status === 'Already exists') present.add(e.id);
          else if (present.has(e.id)) return;
          if (e.status === 'Resolving') {
            const repo = familiar(reference.replace(/[:@][^/]*$/, ''));
            send({ status: `Pulling from ${repo}`, id: e.id });
            return;
          }
          send({
            status: STATUS_TEXT[e.status],
            progressDetail:
              e.current !== undefined
                ? { current: e.current, ...(e.total && { total: e.total }) }
                : {},
            ...(e.current !== undefined && { progress: progressBar(e.current, e.total) }),
            id: e.id,
          });
        },
      });
      const records = pulled.image.records;
      const record = records.find((r) => r.reference === pulled.reference) ?? records[0];
      const name = familiar(pulled.reference);
      send({ status: `Digest: ${record.indexDigest ?? record.manifestDigest}` });
      send({
        status:
          pulled.fetchedBlobs === 0
            ? `Status: Image is up to date for ${name}`
            : `Status: Downloaded newer image for ${name}`,
      });
      await queue;
      res.end();
    } catch (e) {
      await queue;
      if (!out.started) throw e; // before any output: a plain Docker error with its status
      await out.fail(e);
    }
  });

  // `docker login`: the CLI keeps the credentials and sends them with each pull.
  router.add('POST', '/auth', async ({ req, res }) => {
    const body = await readJson(req);
    const { username, password } = body;
    if (typeof username !== 'string' || username === '' || typeof password !== 'string')
      throw invalidInput('username and password are required');
    const server = typeof body.serveraddress === 'string' ? body.serveraddress : '';
    const registry = registryHost(server);
    await vch.login(registry, { username, password });
    sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  router.add('POST', '/images/load', async ({ req, res }) => {
    const tooLarge = () =>
      new HttpError(413, `image archive larger than ${MAX_LOAD_BYTES / 1024 ** 3} GiB: refused`);
    // A declared size over the limit is refused before a byte is spooled.
    if (Number(req.headers['content-length'] ?? 0) > MAX_LOAD_BYTES) throw tooLarge();
    await mkdir(tmpDir, { recursive: true });
    const file = join(tmpDir, `load-${randomBytes(8).toString('hex')}.tar`);
    try {
      let size = 0;
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > MAX_LOAD_BYTES) throw tooLarge();
            yield chunk;
          }
        },
        createWriteStream(file),
      );
      if (size === 0) throw invalidInput('empty image archive: send a tar in the request body');
      const out = new JsonStream(res);
      try {
        const result = await vch.loadImages(file);
        for (const r of result.references)
          await out.send({ stream: `Loaded image: ${familiar(r)}\n` });
        res.end();
      } catch (e) {
        // Name the upload as the client knows it, not by our spool file.
        if (e instanceof Error) e.message = e.message.split(file).join('the image archive');
        // Before any output a failure is a plain error with its status; after, in the stream.
        if (!out.started) throw e;
        await out.fail(e);
      }
    } finally {
      await rm(file, { force: true });
    }
  });

  router.add('GET', '/images/json', async ({ res }) => {
    const images = await vch.listImages();
    images.sort((a, b) => b.created - a.created);
    sendJson(res, 200, images.map(imageSummary));
  });

  router.add('GET', '/images/{name*}/json', async ({ res, params }) => {
    sendJson(res, 200, imageInspect(await vch.inspectImage(params[0])));
  });

  router.add('DELETE', '/images/{name*}', async ({ res, params, query }) => {
    const r = await vch.removeImage(params[0], { force: queryBool(query, 'force') });
    sendJson(res, 200, [
      ...r.untagged.map((u) => ({ Untagged: familiar(u) })),
      ...r.deleted.map((d) => ({ Deleted: d })),
    ]);
  });
}
