// Fuzzing what a registry or an archive hands the image store: manifests, indexes, image
// configs and references, random and near-valid (valid documents with fields swapped for
// anything, and their bytes mutated). Each is parsed or refused with one InvalidInput (or
// NotFound for a platform) line; nothing else escapes.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { edits, expectRefusal, fuzz, mutate, nastyString } from '../../test/support/fuzz.js';
import { parseImageConfig, parseManifestDocument, selectPlatform } from './manifest.js';
import { mediaTypes } from './media-types.js';
import { parseReference } from './reference.js';

const digest = fc.oneof(
  fc.stringMatching(/^sha256:[0-9a-f]{64}$/),
  nastyString,
  fc.constant(`sha256:${'a'.repeat(64)}`),
);
const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyString, digest);
const descriptor = fc.record(
  {
    mediaType: fc.oneof(fc.constantFrom(...Object.values(mediaTypes)), anything),
    digest,
    size: fc.oneof(fc.integer({ min: -1, max: 10 << 20 }), anything),
    platform: fc.oneof(
      fc.record({
        os: fc.constantFrom('linux', 'windows', 'unknown'),
        architecture: fc.constantFrom('amd64', 'arm64', 'unknown'),
      }),
      anything,
    ),
    annotations: anything,
  },
  { requiredKeys: [] },
);
const document = fc.record(
  {
    schemaVersion: fc.oneof(fc.constant(2), anything),
    mediaType: fc.oneof(fc.constantFrom(...Object.values(mediaTypes)), anything),
    config: fc.oneof(descriptor, anything),
    layers: fc.oneof(fc.array(descriptor, { maxLength: 4 }), anything),
    manifests: fc.oneof(fc.array(descriptor, { maxLength: 4 }), anything),
    rootfs: fc.oneof(
      fc.record({
        type: fc.constantFrom('layers', 'x'),
        diff_ids: fc.array(digest, { maxLength: 4 }),
      }),
      anything,
    ),
    os: anything,
    architecture: anything,
  },
  { requiredKeys: [] },
);
const bytes = fc.oneof(
  fc.tuple(document, edits).map(([d, e]) => mutate(Buffer.from(JSON.stringify(d)), e)),
  document.map((d) => Buffer.from(JSON.stringify(d))),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
);

it('parses any manifest or index, or refuses it cleanly', async () => {
  await fuzz(
    'image manifest/index',
    fc.property(bytes, fc.option(nastyString), (b, contentType) => {
      try {
        const doc = parseManifestDocument(b, contentType ?? undefined);
        if (doc.kind === 'index') {
          try {
            selectPlatform(doc, 'fuzz');
          } catch (e) {
            expectRefusal(e);
          }
        } else {
          expect(doc.config.size).toBeLessThanOrEqual(4 << 20);
          for (const l of doc.layers) expect(l.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        }
      } catch (e) {
        expectRefusal(e);
      }
    }),
    { runs: 4000 },
  );
});

it('parses any image config, or refuses it cleanly', async () => {
  await fuzz(
    'image config',
    fc.property(bytes, fc.nat({ max: 4 }), (b, layers) => {
      try {
        expect(parseImageConfig(b, layers).diffIds).toHaveLength(layers);
      } catch (e) {
        expectRefusal(e);
      }
    }),
    { runs: 4000 },
  );
});

it('parses any image reference, or refuses it cleanly', async () => {
  const part = fc.oneof(
    nastyString,
    fc.constantFrom('busybox', 'a/b', 'localhost:5000', ':', '@', 'sha256:', 'latest'),
  );
  await fuzz(
    'image reference',
    fc.property(
      fc.array(part, { maxLength: 5 }),
      fc.array(fc.constantFrom('/', ':', '@', ''), { maxLength: 5 }),
      (parts, seps) => {
        const text = parts.map((p, i) => p + (seps[i] ?? '')).join('');
        try {
          const r = parseReference(text);
          expect(r.repository).not.toBe('');
        } catch (e) {
          expectRefusal(e);
        }
      },
    ),
    { runs: 5000 },
  );
});

// Found by the fuzzers above: a parser's message quoted the input with its newlines, so a
// hostile document could add lines to an error (and to the log and the answer it ends in).
it('regression: messages quoting the input stay one line', () => {
  for (const [b, type] of [
    [Buffer.from([10, 0]), undefined],
    [Buffer.from('{}'), '\u0000\n\u0000'],
  ] as const) {
    let message = '';
    try {
      parseManifestDocument(b, type);
    } catch (e) {
      expectRefusal(e);
      message = (e as Error).message;
    }
    expect(message).not.toBe('');
  }
  expect(() => parseImageConfig(Buffer.from('\n\u2028'), 0)).toThrow(
    /^image config is not valid JSON: [^\n\u2028]*$/,
  );
});
