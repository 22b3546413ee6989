import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ContainerConfigError } from './errors.js';
import { taskSeccomp } from './seccomp-profile.js';

const root = mkdtempSync(join(tmpdir(), 'seccomp-root-'));
mkdirSync(join(root, 'profiles'));
writeFileSync(join(root, 'profiles', 'ok.json'), '{"defaultAction":"SCMP_ACT_ALLOW"}');
mkdirSync(join(root, 'adir.json'));

function pod(podProfile?: k8s.V1SeccompProfile, own?: k8s.V1SeccompProfile) {
  const c: k8s.V1Container = { name: 'app', securityContext: own && { seccompProfile: own } };
  const p: k8s.V1Pod = {
    metadata: { name: 'p', namespace: 'ns' },
    spec: { containers: [c], securityContext: podProfile && { seccompProfile: podProfile } },
  };
  return { p, c };
}

describe('taskSeccomp', () => {
  it('is RuntimeDefault when nothing says, the container over the pod', async () => {
    const a = pod();
    expect(await taskSeccomp(a.p, a.c, root)).toEqual({ seccompProfile: 'RuntimeDefault' });
    const b = pod({ type: 'Unconfined' });
    expect(await taskSeccomp(b.p, b.c, root)).toEqual({ seccompProfile: 'Unconfined' });
    const c = pod({ type: 'Unconfined' }, { type: 'RuntimeDefault' });
    expect(await taskSeccomp(c.p, c.c, root)).toEqual({ seccompProfile: 'RuntimeDefault' });
  });

  it('reads a Localhost profile under the root and sends its text', async () => {
    const a = pod(undefined, { type: 'Localhost', localhostProfile: 'profiles/ok.json' });
    expect(await taskSeccomp(a.p, a.c, root)).toEqual({
      seccompProfile: 'Localhost',
      seccompLocalhostProfile: '{"defaultAction":"SCMP_ACT_ALLOW"}',
    });
  });

  it('leaves the container waiting on a missing, escaping or non-file profile', async () => {
    for (const [name, why] of [
      ['profiles/none.json', /no such file on this node/],
      ['adir.json', /no such file on this node/],
      ['../etc/passwd', /must be a relative path inside/],
      ['/etc/passwd', /must be a relative path inside/],
      ['', /must be a relative path inside/],
    ] as const) {
      const a = pod({ type: 'Localhost', localhostProfile: name });
      const err = await taskSeccomp(a.p, a.c, root).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContainerConfigError);
      expect((err as Error).message).toMatch(why);
    }
  });
});
