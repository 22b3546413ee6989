// What the VCH is asked for a pod's volumes (the contract's CreateVolume and VolumeJoin): one
// VCH volume per pod volume, owned by the pod and removed with it — emptyDir on disk (or tmpfs
// with medium Memory, its sizeLimit the tmpfs size), configMap/secret/downwardAPI/projected on
// tmpfs (never on the VCH's disk), hostPath bound with its type check — and one join per
// volumeMount of each container, after that container's task join.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { VolumeJoinConfig, VolumeRequest } from '../../proxy/volume-store.js';
import { expand } from '../container-env.js';
import { parseQuantity } from '../quantity.js';
import { isComputed } from './content.js';
import { badSubPath } from './file-paths.js';

const NAME_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** The VCH volume's name: `<pod uid>-<volume>` within the VCH's rule (a hash when too long). */
export function vchVolumeName(pod: k8s.V1Pod, volume: string): string {
  const raw = `${pod.metadata!.uid ?? pod.metadata!.name}-${volume}`;
  const clean = raw.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]/, 'v');
  if (NAME_RULE.test(clean)) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return `${clean.slice(0, 128 - hash.length - 1)}-${hash}`;
}

/** The emptyDir's sizeLimit in bytes, if it has one. */
export function sizeLimitOf(v: k8s.V1Volume): number | undefined {
  const q = v.emptyDir?.sizeLimit;
  return q === undefined ? undefined : parseQuantity(q, `volume ${v.name}: sizeLimit`);
}

/** CreateVolume's request for one pod volume of the pod `podId` (the VCH's container id). */
export function volumeRequest(pod: k8s.V1Pod, v: k8s.V1Volume, podId: string): VolumeRequest {
  const owner = { pod: podId, ephemeral: 'true' };
  const Name = vchVolumeName(pod, v.name);
  const Metadata = {
    'vic-kubelet.io/pod': `${pod.metadata!.namespace}/${pod.metadata!.name}`,
    'vic-kubelet.io/volume': v.name,
  };
  if (v.hostPath)
    return {
      Name,
      Store: 'default',
      Driver: 'bind',
      Capacity: -1,
      DriverArgs: { path: v.hostPath.path, type: v.hostPath.type ?? '', ...owner },
      Metadata,
    };
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  const args: Record<string, string> = {
    ...owner,
    medium: isComputed(v) || v.emptyDir?.medium === 'Memory' ? 'memory' : 'disk',
    ...(fsGroup !== undefined && { gid: String(fsGroup) }),
  };
  const limit = sizeLimitOf(v);
  if (limit !== undefined) args.sizeLimit = String(Math.ceil(limit));
  return {
    Name,
    Store: 'default',
    Driver: 'local',
    Capacity: limit === undefined ? -1 : Math.ceil(limit),
    DriverArgs: args,
    Metadata,
  };
}

/**
 * The joins of one container's volumeMounts. `vars`: the container's environment, which
 * subPathExpr expands as the kubelet does; an expansion that climbs out throws `fail`'s error.
 */
export function mountJoins(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  vars: Map<string, string>,
  fail: (message: string) => Error,
): { volume: string; join: Omit<VolumeJoinConfig, 'Handle'> }[] {
  return (c.volumeMounts ?? []).map((m) => {
    const v = pod.spec!.volumes!.find((x) => x.name === m.name)!;
    let subPath = m.subPath ?? '';
    if (m.subPathExpr) {
      subPath = expand(m.subPathExpr, vars);
      const bad = badSubPath(subPath);
      if (bad) throw fail(`failed to prepare subPath for volumeMount "${m.name}": ${bad}`);
    }
    // The API's volumes (configMap, secret, downwardAPI, projected) are always read-only.
    const readOnly = Boolean(m.readOnly) || isComputed(v) || Boolean(v.hostPath && m.readOnly);
    return {
      volume: vchVolumeName(pod, v.name),
      join: {
        MountPath: m.mountPath,
        Flags: {
          task: c.name,
          readOnly: String(readOnly),
          ...(subPath && { subPath }),
        },
      },
    };
  });
}
