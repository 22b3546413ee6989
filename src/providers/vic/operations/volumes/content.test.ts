import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { mapSources } from '../../../../../test/support/fake-volumes.js';
import { testPod } from '../../../../../test/support/pods.js';
import { ContainerConfigError } from '../errors.js';
import { formatMap } from './content.js';
import { computeContents } from './pod-volumes.js';
import { needsRefresh, TokenManager, type TokenSpec } from './service-account-token.js';

const node = { allocatable: { memory: '8Gi', cpu: '4' }, hostIPs: ['10.0.0.1'] };

function podWith(volumes: k8s.V1Volume[], spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return testPod(
    'web',
    [
      {
        name: 'app',
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
        volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/m/${v.name}` })),
      },
    ],
    { volumes, ...spec },
  );
}

/** The files of each volume as text, or the error. */
async function contents(pod: k8s.V1Pod, sources = mapSources(), tokens?: TokenManager) {
  const got = await computeContents(pod, sources, tokens, node);
  return Object.fromEntries(
    [...got].map(([name, c]) => [
      name,
      Object.fromEntries(c.files.map((f) => [f.path, { text: f.data.toString(), mode: f.mode }])),
    ]),
  );
}

const settings: k8s.V1ConfigMap = {
  metadata: { name: 'settings' },
  data: { 'app.conf': 'debug=1', other: 'x' },
  binaryData: { 'logo.bin': Buffer.from([1, 2, 3]).toString('base64') },
};

describe('configMap and secret volumes', () => {
  it('hold every key (data and binaryData) with defaultMode 0644', async () => {
    const pod = podWith([{ name: 'cfg', configMap: { name: 'settings' } }]);
    const got = await contents(pod, mapSources({ configMaps: { 'default/settings': settings } }));
    expect(got.cfg['app.conf']).toEqual({ text: 'debug=1', mode: 0o644 });
    expect(got.cfg.other.text).toBe('x');
    expect(Buffer.from(got.cfg['logo.bin'].text)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('hold only the items, at their paths and modes, defaultMode for the rest', async () => {
    const pod = podWith([
      {
        name: 'cfg',
        configMap: {
          name: 'settings',
          defaultMode: 0o400,
          items: [
            { key: 'app.conf', path: 'conf/app.conf', mode: 0o600 },
            { key: 'other', path: 'o' },
          ],
        },
      },
    ]);
    const got = await contents(pod, mapSources({ configMaps: { 'default/settings': settings } }));
    expect(got.cfg).toEqual({
      'conf/app.conf': { text: 'debug=1', mode: 0o600 },
      o: { text: 'x', mode: 0o400 },
    });
  });

  it("a mandatory missing ConfigMap or key is the container's CreateContainerConfigError", async () => {
    const pod = podWith([{ name: 'cfg', configMap: { name: 'absent' } }]);
    const err = await computeContents(pod, mapSources(), undefined, node).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerConfigError);
    expect(err).toMatchObject({ container: 'app', kind: 'NotFound' });
    expect((err as Error).message).toMatch(/volume "cfg": configmap "absent" not found/);

    const keyed = podWith([
      { name: 'cfg', configMap: { name: 'settings', items: [{ key: 'nope', path: 'n' }] } },
    ]);
    await expect(
      computeContents(
        keyed,
        mapSources({ configMaps: { 'default/settings': settings } }),
        undefined,
        node,
      ),
    ).rejects.toThrow(/configmap references non-existent config key: nope/);
  });

  it('an optional missing source is an empty volume, an optional missing key is skipped', async () => {
    const pod = podWith([
      { name: 'a', configMap: { name: 'absent', optional: true } },
      { name: 's', secret: { secretName: 'absent', optional: true } },
      {
        name: 'b',
        configMap: {
          name: 'settings',
          optional: true,
          items: [
            { key: 'nope', path: 'n' },
            { key: 'other', path: 'o' },
          ],
        },
      },
    ]);
    const got = await contents(pod, mapSources({ configMaps: { 'default/settings': settings } }));
    expect(got).toEqual({ a: {}, s: {}, b: { o: { text: 'x', mode: 0o644 } } });
  });

  it('a Secret is decoded, with its items and modes', async () => {
    const pod = podWith([
      {
        name: 'creds',
        secret: { secretName: 'db', defaultMode: 0o440, items: [{ key: 'password', path: 'pw' }] },
      },
    ]);
    const got = await contents(
      pod,
      mapSources({ secrets: { 'default/db': { password: 's3cret', user: 'u' } } }),
    );
    expect(got.creds).toEqual({ pw: { text: 's3cret', mode: 0o440 } });
  });

  it('a key that is not a file name (..) is refused and nothing is computed', async () => {
    const bad: k8s.V1ConfigMap = { metadata: { name: 'bad' }, data: { '..data': 'evil', ok: '1' } };
    const pod = podWith([{ name: 'cfg', configMap: { name: 'bad' } }]);
    const err = await computeContents(
      pod,
      mapSources({ configMaps: { 'default/bad': bad } }),
      undefined,
      node,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerConfigError);
    expect(err).toMatchObject({ kind: 'InvalidInput' });
    expect((err as Error).message).toMatch(/invalid path: must not start with '\.\.': \.\.data/);
  });

  it('fsGroup owns the files and may read them', async () => {
    const pod = podWith([{ name: 'cfg', configMap: { name: 'settings', defaultMode: 0o600 } }], {
      securityContext: { fsGroup: 2000 },
    });
    const got = await computeContents(
      pod,
      mapSources({ configMaps: { 'default/settings': settings } }),
      undefined,
      node,
    );
    const c = got.get('cfg')!;
    expect(c.owner).toEqual({ gid: 2000 });
    expect(c.files.every((f) => f.mode === 0o640)).toBe(true);
  });
});

describe('downwardAPI volumes', () => {
  it('hold the pod fields (maps as the kubelet formats them) and resources over the divisor', async () => {
    const pod = podWith([
      {
        name: 'info',
        downwardAPI: {
          items: [
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
            { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'tier', fieldRef: { fieldPath: "metadata.labels['tier']" } },
            { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' }, mode: 0o400 },
            {
              path: 'mem',
              resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' },
            },
            {
              path: 'cpu',
              resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' },
            },
          ],
        },
      },
    ]);
    pod.metadata!.labels = { tier: 'web', app: 'shop' };
    pod.metadata!.annotations = { note: 'say "hi"\n' };
    const got = (await contents(pod)).info;
    expect(got.name.text).toBe('web');
    expect(got.ns.text).toBe('default');
    expect(got.uid.text).toBe('uid-web');
    expect(got.labels.text).toBe('app="shop"\ntier="web"');
    expect(got.tier.text).toBe('web');
    expect(got.annotations).toEqual({ text: 'note="say \\"hi\\"\\n"', mode: 0o400 });
    expect(got.mem.text).toBe('64');
    expect(got.cpu.text).toBe('500');
  });

  it('formatMap quotes as Go does', () => {
    expect(formatMap({ b: 'x\ty', a: '\x01' })).toBe('a="\\x01"\nb="x\\ty"');
    expect(formatMap(undefined)).toBe('');
  });
});

describe('the projected service-account token volume (kube-api-access-*)', () => {
  const kubeApiAccess: k8s.V1Volume = {
    name: 'kube-api-access-abcde',
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [
              {
                path: 'namespace',
                fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' },
              },
            ],
          },
        },
      ],
    },
  };

  it('holds a token bound to the pod, the cluster CA and the namespace', async () => {
    const asked: TokenSpec[] = [];
    const tokens = new TokenManager(async (spec) => {
      asked.push(spec);
      return { token: 'jwt-1', expiresAt: Date.now() + 3607_000 };
    });
    const pod = podWith([kubeApiAccess], { serviceAccountName: 'builder' });
    const sources = mapSources({
      configMaps: { 'default/kube-root-ca.crt': { data: { 'ca.crt': 'PEM' } } },
    });
    const got = (await contents(pod, sources, tokens))['kube-api-access-abcde'];
    expect(got).toEqual({
      token: { text: 'jwt-1', mode: 0o644 },
      'ca.crt': { text: 'PEM', mode: 0o644 },
      namespace: { text: 'default', mode: 0o644 },
    });
    expect(asked).toEqual([
      {
        namespace: 'default',
        serviceAccount: 'builder',
        audiences: [],
        expirationSeconds: 3607,
        pod: { name: 'web', uid: 'uid-web' },
      },
    ]);
  });

  it('the token is 0600 and the FsUser’s when all containers run as one user, 0640 with an fsGroup', async () => {
    const tokens = new TokenManager(async () => ({
      token: 'jwt',
      expiresAt: Date.now() + 3607_000,
    }));
    const sources = mapSources({
      configMaps: { 'default/kube-root-ca.crt': { data: { 'ca.crt': 'PEM' } } },
    });
    const tokenOf = async (pod: k8s.V1Pod) =>
      (await computeContents(pod, sources, tokens, node))
        .get('kube-api-access-abcde')!
        .files.find((f) => f.path === 'token')!;
    const user = (u?: number): k8s.V1SecurityContext => (u === undefined ? {} : { runAsUser: u });
    const pod = (pod?: number, app?: number, init?: [number?], fsGroup?: number) => {
      const p = podWith([kubeApiAccess], {
        securityContext: { ...(pod !== undefined && { runAsUser: pod }), fsGroup },
        ...(init && {
          initContainers: init.map((u) => ({ name: 'init', image: 'i', securityContext: user(u) })),
        }),
      });
      p.spec!.containers[0].securityContext = user(app);
      return p;
    };
    // The pod's runAsUser for all: theirs.
    expect(await tokenOf(pod(1000))).toMatchObject({ mode: 0o600, uid: 1000 });
    // Each container's own, the same: theirs.
    expect(await tokenOf(pod(undefined, 1000, [1000]))).toMatchObject({ mode: 0o600, uid: 1000 });
    // root counts as a user too.
    expect(await tokenOf(pod(0))).toMatchObject({ mode: 0o600, uid: 0 });
    // Two users, or one container without: no FsUser, the volume's mode.
    for (const p of [pod(undefined, 1000, [2000]), pod(undefined, 1000, [undefined])]) {
      const t = await tokenOf(p);
      expect(t.mode).toBe(0o644);
      expect(t.uid).toBeUndefined();
    }
    // An fsGroup: 0600 made group-readable (SetVolumeOwnership), the group's.
    const g = await computeContents(
      pod(undefined, undefined, undefined, 3000),
      sources,
      tokens,
      node,
    );
    const withGroup = g.get('kube-api-access-abcde')!;
    expect(withGroup.owner).toEqual({ gid: 3000 });
    expect(withGroup.files.find((f) => f.path === 'token')).toMatchObject({ mode: 0o640 });
    expect(withGroup.files.find((f) => f.path === 'ca.crt')).toMatchObject({ mode: 0o644 });
  });

  it('an audience is asked for; without a token API the container waits', async () => {
    const asked: TokenSpec[] = [];
    const tokens = new TokenManager(async (spec) => {
      asked.push(spec);
      return { token: 't', expiresAt: Date.now() + 600_000 };
    });
    const pod = podWith([
      {
        name: 'vault',
        projected: {
          sources: [{ serviceAccountToken: { audience: 'vault', path: 'vault-token' } }],
        },
      },
    ]);
    await contents(pod, mapSources(), tokens);
    expect(asked[0]).toMatchObject({
      audiences: ['vault'],
      expirationSeconds: 3600,
      serviceAccount: 'default',
    });
    await expect(computeContents(pod, mapSources(), undefined, node)).rejects.toThrow(
      /no kubeClient defined/,
    );
  });

  it('a token is kept until 80 % of its lifetime, then asked for again', async () => {
    let now = 1_000_000;
    let n = 0;
    const tokens = new TokenManager(
      async () => ({ token: `t${++n}`, expiresAt: now + 1000_000 }),
      () => now,
    );
    const spec: TokenSpec = {
      namespace: 'default',
      serviceAccount: 'default',
      audiences: [],
      expirationSeconds: 1000,
      pod: { name: 'p', uid: 'u' },
    };
    expect((await tokens.get(spec)).token).toBe('t1');
    now += 799_000;
    expect((await tokens.get(spec)).token).toBe('t1');
    now += 1_000;
    expect((await tokens.get(spec)).token).toBe('t2');
    expect(
      needsRefresh({ token: '', issuedAt: 0, expiresAt: 10 * 24 * 3600_000 }, 24 * 3600_000),
    ).toBe(true);
    tokens.forget('u');
    expect((await tokens.get(spec)).token).toBe('t3');
  });
});
