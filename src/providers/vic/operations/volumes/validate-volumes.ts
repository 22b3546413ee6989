// The pod's volumes and mounts held to what this node does, when the pod is validated (before
// anything is pulled or created): a source it does not mount, a mount propagation it does not
// give, an items.path or mode the kubelet would not write, a subPath that climbs out — each
// refuses the pod with one clear reason (InvalidInput: the pod fails at once, with an Event).
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../../node/errors.js';
import { badFileMode, badFilePath, badSubPath } from './file-paths.js';

/** The volume sources this node mounts. */
const SUPPORTED = ['emptyDir', 'configMap', 'secret', 'downwardAPI', 'projected', 'hostPath'];

/** The hostPath types the VCH checks, as the kubelet does. */
const HOST_PATH_TYPES = [
  '',
  'DirectoryOrCreate',
  'Directory',
  'FileOrCreate',
  'File',
  'Socket',
  'CharDevice',
  'BlockDevice',
];

const refuse = (message: string) => new NodeError('InvalidInput', message);

function checkItems(
  at: string,
  items: { path: string; mode?: number }[] | undefined,
  defaultMode: number | undefined,
): void {
  if (defaultMode !== undefined) {
    const bad = badFileMode(defaultMode);
    if (bad) throw refuse(`${at}.defaultMode: ${bad}`);
  }
  for (const it of items ?? []) {
    const bad = badFilePath(it.path) ?? (it.mode === undefined ? undefined : badFileMode(it.mode));
    if (bad) throw refuse(`${at}.items[${JSON.stringify(it.path)}]: ${bad}`);
  }
}

function checkVolume(v: k8s.V1Volume): void {
  const at = `spec.volumes[${JSON.stringify(v.name)}]`;
  const sources = Object.entries(v).filter(
    ([k, val]) => k !== 'name' && val !== undefined && val !== null,
  );
  const [kind] = sources.map(([k]) => k);
  if (sources.length !== 1) throw refuse(`${at}: a volume needs exactly one source`);
  if (!SUPPORTED.includes(kind))
    throw refuse(
      `${at}: ${kind} volumes are not supported by this node (it mounts ${SUPPORTED.join(', ')}); run the pod on a node that has them`,
    );
  if (v.hostPath) {
    if (!v.hostPath.path.startsWith('/')) throw refuse(`${at}.hostPath.path must be absolute`);
    if (!HOST_PATH_TYPES.includes(v.hostPath.type ?? ''))
      throw refuse(`${at}.hostPath.type ${JSON.stringify(v.hostPath.type)} is not a hostPath type`);
  }
  if (v.emptyDir?.medium && !['Memory', ''].includes(v.emptyDir.medium))
    throw refuse(
      `${at}.emptyDir.medium ${JSON.stringify(v.emptyDir.medium)}: only "" and Memory are supported`,
    );
  if (v.configMap) checkItems(`${at}.configMap`, v.configMap.items, v.configMap.defaultMode);
  if (v.secret) checkItems(`${at}.secret`, v.secret.items, v.secret.defaultMode);
  if (v.downwardAPI)
    checkItems(`${at}.downwardAPI`, v.downwardAPI.items, v.downwardAPI.defaultMode);
  if (v.projected) {
    checkItems(`${at}.projected`, [], v.projected.defaultMode);
    for (const s of v.projected.sources ?? []) {
      if (s.clusterTrustBundle || s.podCertificate)
        throw refuse(
          `${at}.projected: clusterTrustBundle and podCertificate sources are not supported by this node`,
        );
      checkItems(
        `${at}.projected`,
        s.configMap?.items ?? s.secret?.items ?? s.downwardAPI?.items,
        undefined,
      );
      const t = s.serviceAccountToken;
      if (t) {
        const bad = badFilePath(t.path);
        if (bad) throw refuse(`${at}.projected.serviceAccountToken: ${bad}`);
      }
    }
  }
}

function checkMount(c: k8s.V1Container, m: k8s.V1VolumeMount, volumes: Set<string>): void {
  const at = `spec.containers[${JSON.stringify(c.name)}].volumeMounts[${JSON.stringify(m.mountPath)}]`;
  if (!volumes.has(m.name)) throw refuse(`${at}: no volume is named ${JSON.stringify(m.name)}`);
  if (!m.mountPath.startsWith('/')) throw refuse(`${at}: mountPath must be absolute`);
  if (m.mountPropagation && m.mountPropagation !== 'None')
    throw refuse(
      `${at}: mountPropagation ${m.mountPropagation} is not supported by this node (each pod has its own mount namespace); remove it or use None`,
    );
  if (m.recursiveReadOnly && m.recursiveReadOnly !== 'Disabled')
    throw refuse(`${at}: recursiveReadOnly is not supported by this node; remove it`);
  if (m.subPath && m.subPathExpr)
    throw refuse(`${at}: subPath and subPathExpr are mutually exclusive`);
  const bad = m.subPath
    ? badSubPath(m.subPath)
    : m.subPathExpr
      ? badSubPath(m.subPathExpr)
      : undefined;
  if (bad) throw refuse(`${at}: ${bad}`);
}

/** Throws InvalidInput with the reason when a volume or mount of the pod is not one this node gives. */
export function validateVolumes(pod: k8s.V1Pod): void {
  const names = new Set<string>();
  for (const v of pod.spec?.volumes ?? []) {
    if (names.has(v.name)) throw refuse(`two volumes are named ${JSON.stringify(v.name)}`);
    names.add(v.name);
    checkVolume(v);
  }
  for (const c of pod.spec?.containers ?? [])
    for (const m of c.volumeMounts ?? []) checkMount(c, m, names);
}
