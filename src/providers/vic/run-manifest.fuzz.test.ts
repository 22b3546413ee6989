// Fuzzing `vic-kubelet run`'s manifest loading: any text, YAML-ish or near-valid pod documents
// (fields swapped for anything, bytes mutated), is a pod or one InvalidInput line naming the file.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { edits, expectRefusal, fuzz, mutate, nastyString } from '../../../test/support/fuzz.js';
import { parseRunManifest } from './run-pod.js';

const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyString);
const pod = fc.record(
  {
    apiVersion: fc.oneof(fc.constant('v1'), anything),
    kind: fc.oneof(fc.constantFrom('Pod', 'ConfigMap', 'Secret'), anything),
    metadata: fc.oneof(
      fc.record({ name: fc.oneof(fc.constant('p'), anything) }, { requiredKeys: [] }),
      anything,
    ),
    spec: fc.oneof(
      fc.record({
        containers: fc.array(fc.record({ name: anything, image: anything }, { requiredKeys: [] }), {
          maxLength: 2,
        }),
      }),
      anything,
    ),
    data: anything,
  },
  { requiredKeys: [] },
);
const text = fc.oneof(
  fc
    .array(pod, { maxLength: 3 })
    .map((docs) => docs.map((d) => JSON.stringify(d, null, 1)).join('---\n')),
  fc
    .tuple(fc.array(pod, { minLength: 1, maxLength: 2 }), edits)
    .map(([docs, e]) =>
      mutate(Buffer.from(docs.map((d) => JSON.stringify(d, null, 1)).join('---\n')), e).toString(
        'utf8',
      ),
    ),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('&a [*a, *a]', '!!binary x', '{', ': :', '- - -', '%YAML 9.9\n---\n'),
);

it('loads any manifest text as a pod, or refuses it in one line', async () => {
  await fuzz(
    'run manifest',
    fc.property(text, (t) => {
      try {
        const { pod: p } = parseRunManifest(t, 'pod.yaml');
        expect(p.kind).toBe('Pod');
        expect(p.metadata?.name).toMatch(/^[a-z0-9][-a-z0-9.]*$/);
      } catch (e) {
        expectRefusal(e);
      }
    }),
    { runs: 1500 },
  );
});

// Found by the fuzzer: a non-string apiVersion surfaced the YAML client's TypeError
// ("apiVersion.split is not a function"), and a pod name with a newline was taken.
it('regression: a non-string apiVersion and a name no apiserver would take are refused clearly', () => {
  expect(() =>
    parseRunManifest('apiVersion: 5\nkind: Pod\nmetadata: {name: p}', 'pod.yaml'),
  ).toThrow('pod.yaml: not a pod manifest: apiVersion and kind must be strings');
  expect(() => parseRunManifest('kind: Pod\nmetadata:\n  name: "a\\nb"', 'pod.yaml')).toThrow(
    'pod.yaml: metadata.name "a\\nb" is not a lowercase DNS-1123 subdomain',
  );
  expect(() =>
    parseRunManifest('kind: Pod\nmetadata: {name: p, namespace: "../x"}', 'pod.yaml'),
  ).toThrow('pod.yaml: metadata.namespace "../x" is not a lowercase DNS-1123 subdomain');
});
