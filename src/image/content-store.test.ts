import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore } from './content-store.js';
import { sha256Of } from './digest.js';

let dir: string;
let store: ContentStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vic-blobs-'));
  store = new ContentStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function* slowly(data: Buffer): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += 10) {
    await new Promise((r) => setTimeout(r, 1));
    yield data.subarray(i, i + 10);
  }
}

describe('ContentStore', () => {
  const data = Buffer.from('layer bytes '.repeat(20));
  const digest = sha256Of(data);

  it('stores a blob under its digest once, and fetches nothing the second time', async () => {
    let opened = 0;
    const source = async () => (opened++, slowly(data));
    expect(await store.ingest(digest, data.length, source)).toBe(true);
    expect(await store.ingest(digest, data.length, source)).toBe(false);
    expect(opened).toBe(1);
    expect(await store.read(digest)).toEqual(data);
    expect(store.path(digest)).toBe(join(dir, 'sha256', digest.slice(7)));
  });

  it('shares one download between concurrent ingests, with progress for both', async () => {
    let opened = 0;
    const source = async () => (opened++, slowly(data));
    const seen = [0, 0];
    const [a, b] = await Promise.all([
      store.ingest(digest, data.length, source, (c) => (seen[0] = c)),
      store.ingest(digest, data.length, source, (c) => (seen[1] = c)),
    ]);
    expect([a, b, opened]).toEqual([true, true, 1]);
    expect(seen[0]).toBe(data.length);
    expect(seen[1]).toBe(data.length);
  });

  it('refuses content whose digest or size does not match, leaving nothing behind', async () => {
    const other = Buffer.from('something else');
    await expect(store.ingest(digest, other.length, async () => [other])).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: expect.stringMatching(
        /^digest mismatch for blob sha256:[0-9a-f]{64}: content hashes to sha256:/,
      ),
    });
    await expect(store.ingest(digest, 5, async () => slowly(data))).rejects.toThrow(
      /larger than its declared size of 5 bytes/,
    );
    await expect(store.ingest(digest, data.length + 1, async () => slowly(data))).rejects.toThrow(
      /its descriptor says/,
    );
    expect(await store.has(digest)).toBe(false);
    expect(readdirSync(join(dir, 'ingest'))).toEqual([]);
    await expect(store.read(digest)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('put() checks an expected digest', async () => {
    expect(await store.put(data)).toBe(digest);
    await expect(store.put(Buffer.from('x'), digest)).rejects.toThrow(/digest mismatch/);
  });
});

describe('ContentStore, a shared download that fails', () => {
  const data = Buffer.from('shared layer '.repeat(20));
  const digest = sha256Of(data);

  it('is fetched again by a call that joined it, from its own source', async () => {
    // The first caller's source fails midway (say, its credentials); the second joined it.
    async function* failing(): AsyncIterable<Buffer> {
      yield data.subarray(0, 10);
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('refused');
    }
    let ownOpened = 0;
    const first = store.ingest(digest, data.length, async () => failing());
    const second = store.ingest(digest, data.length, async () => (ownOpened++, slowly(data)));
    await expect(first).rejects.toThrow('refused');
    expect(await second).toBe(true);
    expect(ownOpened).toBe(1);
    expect(await store.read(digest)).toEqual(data);
  });
});
