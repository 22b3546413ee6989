import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../logging/logger.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../../test/support/fake-proxies.js';
import { FakeVolumeStore, mapSources } from '../../../../../test/support/fake-volumes.js';
import { testPod } from '../../../../../test/support/pods.js';
import { ContainerConfigError } from '../errors.js';
import { PodCreator } from '../pod-creator.js';
import { validatePod } from '../validate.js';
import { mountJoins, vchVolumeName, volumeRequest } from './plan.js';

const fail = (m: string) => new Error(m);

function setup(objects: Parameters<typeof mapSources>[0] = {}) {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const store = new FakeVolumeStore(isolation.calls);
  const sources = mapSources(objects);
  const creator = new PodCreator(images, isolation, undefined, silentLogger(), {
    sources,
    volumes: { store },
  });
  return { isolation, store, sources, creator };
}

describe('volumeRequest', () => {
  const pod = testPod('web', [{ name: 'app' }], { securityContext: { fsGroup: 3000 } });

  it('an emptyDir is a local disk volume owned by the pod, removed with it', () => {
    expect(volumeRequest(pod, { name: 'scratch', emptyDir: {} }, 'pod1')).toEqual({
      Name: 'uid-web-scratch',
      Store: 'default',
      Driver: 'local',
      Capacity: -1,
      DriverArgs: { pod: 'pod1', ephemeral: 'true', medium: 'disk', gid: '3000' },
      Metadata: { 'vic-kubelet.io/pod': 'default/web', 'vic-kubelet.io/volume': 'scratch' },
    });
  });

  it('medium Memory is tmpfs of sizeLimit bytes; API volumes are tmpfs too', () => {
    const mem = volumeRequest(
      pod,
      { name: 'm', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      'p',
    );
    expect(mem.DriverArgs).toMatchObject({ medium: 'memory', sizeLimit: String(64 * 2 ** 20) });
    expect(mem.Capacity).toBe(64 * 2 ** 20);
    const disk = volumeRequest(pod, { name: 'd', emptyDir: { sizeLimit: '1Gi' } }, 'p');
    expect(disk.DriverArgs).toMatchObject({ medium: 'disk', sizeLimit: String(2 ** 30) });
    for (const v of [
      { name: 'c', configMap: { name: 'x' } },
      { name: 's', secret: { secretName: 'x' } },
      { name: 'd', downwardAPI: {} },
      { name: 'p', projected: { sources: [] } },
    ])
      expect(volumeRequest(pod, v, 'p').DriverArgs!.medium).toBe('memory');
  });

  it('a hostPath is a bind of its path with its type check', () => {
    const r = volumeRequest(
      pod,
      { name: 'h', hostPath: { path: '/srv/data', type: 'Directory' } },
      'p',
    );
    expect(r).toMatchObject({
      Driver: 'bind',
      DriverArgs: { path: '/srv/data', type: 'Directory', pod: 'p', ephemeral: 'true' },
    });
  });

  it('names stay within the VCH rule', () => {
    const long = testPod('x');
    long.metadata!.uid = 'u'.repeat(120);
    const name = vchVolumeName(long, 'data');
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/);
    expect(vchVolumeName(long, 'other')).not.toBe(name);
  });
});

describe('mountJoins', () => {
  const pod = testPod('web', [{ name: 'app' }], {
    volumes: [
      { name: 'data', emptyDir: {} },
      { name: 'cfg', configMap: { name: 'c' } },
    ],
  });

  it('one join per mount, readOnly as asked (always for API volumes), subPath, subPathExpr from env', () => {
    const c: k8s.V1Container = {
      name: 'app',
      volumeMounts: [
        { name: 'data', mountPath: '/data' },
        { name: 'data', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)', readOnly: true },
        { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
      ],
    };
    expect(mountJoins(pod, c, new Map([['POD_NAME', 'web-1']]), fail)).toEqual([
      {
        volume: 'uid-web-data',
        join: { MountPath: '/data', Flags: { task: 'app', readOnly: 'false' } },
      },
      {
        volume: 'uid-web-data',
        join: {
          MountPath: '/logs',
          Flags: { task: 'app', readOnly: 'true', subPath: 'logs/web-1' },
        },
      },
      {
        volume: 'uid-web-cfg',
        join: {
          MountPath: '/etc/app.conf',
          Flags: { task: 'app', readOnly: 'true', subPath: 'app.conf' },
        },
      },
    ]);
  });

  it('a subPathExpr that expands to climb out is refused', () => {
    const c: k8s.V1Container = {
      name: 'app',
      volumeMounts: [{ name: 'data', mountPath: '/d', subPathExpr: '$(DIR)/x' }],
    };
    expect(() => mountJoins(pod, c, new Map([['DIR', '..']]), fail)).toThrow(
      /failed to prepare subPath for volumeMount "data": subPath "..\/x" must not contain '..'/,
    );
  });
});

describe('validatePod: volumes', () => {
  const withVolume = (v: k8s.V1Volume, mount: Partial<k8s.V1VolumeMount> = {}) =>
    testPod('p', [{ name: 'app', volumeMounts: [{ name: v.name, mountPath: '/v', ...mount }] }], {
      volumes: [v],
    });

  it('accepts every source this node mounts', () => {
    for (const v of [
      { name: 'a', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      {
        name: 'a',
        configMap: {
          name: 'c',
          items: [{ key: 'k', path: 'd/k', mode: 0o600 }],
          defaultMode: 0o444,
        },
      },
      { name: 'a', secret: { secretName: 's', optional: true } },
      {
        name: 'a',
        downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] },
      },
      { name: 'a', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      { name: 'a', hostPath: { path: '/srv', type: 'DirectoryOrCreate' } },
    ])
      expect(() => validatePod(withVolume(v)), v.name).not.toThrow();
  });

  it.each([
    [
      { name: 'a', persistentVolumeClaim: { claimName: 'c' } },
      /persistentVolumeClaim volumes are not supported by this node/,
    ],
    [{ name: 'a', csi: { driver: 'd' } }, /csi volumes are not supported/],
    [{ name: 'a', ephemeral: {} }, /ephemeral volumes are not supported/],
    [{ name: 'a', nfs: { server: 's', path: '/' } }, /nfs volumes are not supported/],
    [
      { name: 'a', iscsi: { targetPortal: 't', iqn: 'i', lun: 0 } },
      /iscsi volumes are not supported/,
    ],
    [
      { name: 'a', configMap: { name: 'c', items: [{ key: 'k', path: '/etc/passwd' }] } },
      /spec\.volumes\["a"\]\.configMap\.items\["\/etc\/passwd"\]: invalid path: must be relative path/,
    ],
    [
      { name: 'a', secret: { secretName: 's', items: [{ key: 'k', path: 'x/../../y' }] } },
      /invalid path: must not contain '\.\.'/,
    ],
    [
      { name: 'a', secret: { secretName: 's', defaultMode: 0o1777 } },
      /defaultMode: invalid mode 1023: must be a number between 0 and 0777/,
    ],
    [
      { name: 'a', configMap: { name: 'c', items: [{ key: 'k', path: 'k', mode: 0o4755 }] } },
      /invalid mode 2541/,
    ],
    [{ name: 'a', hostPath: { path: 'rel' } }, /hostPath\.path must be absolute/],
    [{ name: 'a', hostPath: { path: '/x', type: 'Weird' } }, /"Weird" is not a hostPath type/],
  ] as [k8s.V1Volume, RegExp][])('refuses %j', (v, why) => {
    expect(() => validatePod(withVolume(v))).toThrow(why);
    try {
      validatePod(withVolume(v));
    } catch (err) {
      expect(err).toMatchObject({ kind: 'InvalidInput' });
    }
  });

  it('refuses a mount propagation, a subPath that climbs out, a mount of no volume', () => {
    const v = { name: 'a', emptyDir: {} };
    expect(() => validatePod(withVolume(v, { mountPropagation: 'HostToContainer' }))).toThrow(
      /mountPropagation HostToContainer is not supported by this node/,
    );
    expect(() => validatePod(withVolume(v, { mountPropagation: 'None' }))).not.toThrow();
    expect(() => validatePod(withVolume(v, { subPath: '../../etc' }))).toThrow(
      /must not contain '\.\.'/,
    );
    expect(() => validatePod(withVolume(v, { subPath: '/etc' }))).toThrow(
      /must be a relative path/,
    );
    expect(() => validatePod(withVolume(v, { name: 'other' }))).toThrow(
      /no volume is named "other"/,
    );
  });
});

describe('PodCreator with volumes', () => {
  const pod = () =>
    testPod(
      'web',
      [
        {
          name: 'app',
          env: [{ name: 'SUB', value: 'a' }],
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/cfg' },
            { name: 'scratch', mountPath: '/tmp/s', subPathExpr: '$(SUB)' },
          ],
        },
        { name: 'side', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] },
      ],
      {
        volumes: [
          { name: 'cfg', configMap: { name: 'settings' } },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    );

  it('creates and fills the volumes, then joins each mount after its task, in one commit', async () => {
    const { isolation, store, creator } = setup({
      configMaps: { 'default/settings': { data: { 'a.conf': 'x=1' } } },
    });
    const p = pod();
    await creator.create(p, await creator.pullImages(p));
    expect(isolation.calls).toEqual([
      'create',
      'create uid-web-cfg',
      'write uid-web-cfg',
      'create uid-web-scratch',
      'image app',
      'task app',
      'join uid-web-cfg /etc/cfg',
      'join uid-web-scratch /tmp/s',
      'image side',
      'task side',
      'join uid-web-scratch /s',
      'interaction',
      'logging',
      'commit',
    ]);
    expect(store.filesOf('cfg')).toEqual({ 'a.conf': 'x=1' });
    const [id] = isolation.containers.keys();
    expect(store.volumes.get('uid-web-cfg')!.request.DriverArgs).toMatchObject({
      pod: id,
      ephemeral: 'true',
    });
    expect(store.joins[1].join.Flags).toEqual({ task: 'app', readOnly: 'false', subPath: 'a' });
  });

  it('a missing ConfigMap: CreateContainerConfigError before anything is made on the VCH', async () => {
    const { isolation, creator } = setup();
    const p = pod();
    const images = await creator.pullImages(p);
    isolation.calls.length = 0;
    const err = await creator.create(p, images).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerConfigError);
    expect(err).toMatchObject({ container: 'app' });
    expect(isolation.calls).toEqual([]);
  });

  it('a failed commit removes the volumes it made', async () => {
    const { isolation, store, creator } = setup({
      configMaps: { 'default/settings': { data: {} } },
    });
    isolation.failOn = 'commit';
    const p = pod();
    await expect(creator.create(p, await creator.pullImages(p))).rejects.toThrow(/commit refused/);
    expect(store.volumes.size).toBe(0);
    // A second attempt makes them anew.
    isolation.failOn = undefined;
    await creator.create(p, await creator.pullImages(p));
    expect(store.volumes.size).toBe(2);
  });
});
