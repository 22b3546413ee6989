import { describe, expect, it } from 'vitest';
import { formatReference, parseReference } from './reference.js';

const digest = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/user/app:v1', 'docker.io/user/app:v1'],
    ['127.0.0.1:5000/busybox:test', '127.0.0.1:5000/busybox:test'],
    ['localhost/a/b/c', 'localhost/a/b/c:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
    [`reg.example.com/x@${digest}`, `reg.example.com/x@${digest}`],
    [`reg.example.com/x:tag@${digest}`, `reg.example.com/x:tag@${digest}`],
    ['my-reg.io/a__b/c.d-e', 'my-reg.io/a__b/c.d-e:latest'],
  ])('%s → %s', (input, normalized) => {
    expect(formatReference(parseReference(input))).toBe(normalized);
  });

  it('splits registry, repository, tag and digest', () => {
    expect(parseReference(`127.0.0.1:5000/team/busybox:t@${digest}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/busybox',
      tag: 't',
      digest,
    });
  });

  it.each([
    ['UPPER/case', /repository name must be lowercase/],
    ['', /empty/],
    ['busybox:', /bad tag/],
    ['busybox:-x', /bad tag/],
    ['a//b', /bad repository name/],
    ['-a', /bad repository name/],
    ['a@sha256:1234', /invalid digest/],
    [`a@md5:${'0'.repeat(32)}`, /unsupported digest algorithm/],
    ['bad_host.com:99999/a', /bad registry host/],
    ['reg.io/', /missing repository name/],
    [`x/${'a'.repeat(260)}`, /longer than 255/],
  ])('refuses %j', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'InvalidInput', message: expect.stringMatching(why) });
    expect((err as Error).message).toMatch(/^invalid reference format: /);
    expect((err as Error).message).not.toContain('\n');
  });
});
