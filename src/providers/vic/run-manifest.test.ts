import { describe, expect, it } from 'vitest';
import { manifestSources } from './run-manifest.js';
import { parseRunManifest } from './run-pod.js';

const manifest = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {user: YWRtaW4=}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: app, image: busybox:1, envFrom: [{configMapRef: {name: settings}}]}]
`;

describe('parseRunManifest', () => {
  it('takes the pod and the ConfigMaps and Secrets beside it, served by namespace and name', async () => {
    const { pod, objects } = parseRunManifest(manifest, 'web.yaml');
    expect(pod.metadata!.name).toBe('web');
    const sources = manifestSources(objects);
    expect((await sources.configMap('default', 'settings'))!.data).toEqual({ mode: 'blue' });
    expect(await sources.configMap('other', 'settings')).toBeUndefined();
    const s = (await sources.secret('default', 'creds'))!;
    expect(s.data).toEqual({
      user: 'YWRtaW4=',
      password: Buffer.from('s3cret').toString('base64'),
    });
    expect(await sources.services('default')).toEqual([]);
  });

  it('refuses what it cannot take, in one line', () => {
    expect(() => parseRunManifest('kind: ConfigMap\nmetadata: {}', 'a.yaml')).toThrow(
      'a.yaml: a ConfigMap needs metadata.name',
    );
    expect(() =>
      parseRunManifest('kind: Secret\napiVersion: v2\nmetadata: {name: s}', 'a.yaml'),
    ).toThrow('a.yaml: Secret: want apiVersion v1');
    expect(() => parseRunManifest('kind: ConfigMap\nmetadata: {name: c}', 'a.yaml')).toThrow(
      /want exactly one pod document, found 0/,
    );
    expect(() =>
      parseRunManifest(
        'kind: Service\nmetadata: {name: x}\n---\nkind: Pod\nmetadata: {name: p}',
        'a.yaml',
      ),
    ).toThrow(/found 2/);
  });
});
