// The files of a pod's computed volumes, as the kubelet makes them (its configmap, secret,
// downwardapi and projected volume plugins): every key of a ConfigMap (data and binaryData) or
// Secret, or only its `items` (key → path, mode); `defaultMode` (0644) for the rest; a missing
// `optional` source is an empty set, a missing mandatory one (or key) is the container's
// CreateContainerConfigError; downward-API fields and resources; projected sources together,
// with the pod's bound service-account token. Owner: the pod's fsGroup, group-readable. A token
// file is 0600 and owned by the pod's one runAsUser when all its containers share one (the
// kubelet's FsUser) or when it has an fsGroup (0640 then, group-readable as the rest).
// Pure: what it needs was read beforehand (inputs.ts).
import type * as k8s from '@kubernetes/client-node';
import { resourceValue, type Fail, type Lookup } from '../container-env.js';
import type { FileContent } from '../../proxy/volume-store.js';
import { badFileMode, badFilePath } from './file-paths.js';
import { tokenKey, type VolumeInputs } from './inputs.js';

const DEFAULT_MODE = 0o644;

export interface VolumeContent {
  files: FileContent[];
  /** The owner of the files: fsGroup as their group. */
  owner: { gid?: number };
}

/** Whether the volume's content is computed here (and written with WriteVolumeFiles). */
export const isComputed = (v: k8s.V1Volume) =>
  Boolean(v.configMap || v.secret || v.downwardAPI || v.projected);

/** Go's %q of a string (the kubelet's FormatMap quotes values with it). */
function goQuote(s: string): string {
  const esc: Record<string, string> = {
    '\\': '\\\\',
    '"': '\\"',
    '\n': '\\n',
    '\t': '\\t',
    '\r': '\\r',
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\v': '\\v',
  };
  let out = '"';
  for (const c of s) {
    const code = c.charCodeAt(0);
    out +=
      esc[c] ?? (code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c);
  }
  return `${out}"`;
}

/** The kubelet's FormatMap: `key="value"` lines in key order. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k])}`)
    .join('\n');
}

/** A downward-API fieldRef of a volume (metadata only, as the API allows there). */
function fieldFile(pod: k8s.V1Pod, path: string, fail: Fail): string {
  const m = pod.metadata ?? {};
  switch (path) {
    case 'metadata.name':
      return m.name ?? '';
    case 'metadata.namespace':
      return m.namespace ?? '';
    case 'metadata.uid':
      return m.uid ?? '';
    case 'metadata.labels':
      return formatMap(m.labels);
    case 'metadata.annotations':
      return formatMap(m.annotations);
  }
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub) return (sub[1] === 'labels' ? m.labels : m.annotations)?.[sub[2]] ?? '';
  throw fail(`downwardAPI volume fieldRef ${path} is not supported`, 'InvalidInput');
}

type KeyToPath = k8s.V1KeyToPath;

/** Files of one ConfigMap or Secret source: all keys, or the items; [] when optional and absent. */
function keyFiles(
  what: 'configmap' | 'secret',
  name: string,
  looked: Lookup<Map<string, Buffer>> | undefined,
  items: KeyToPath[] | undefined,
  optional: boolean | undefined,
  defaultMode: number,
  fail: Fail,
): FileContent[] {
  if (!looked) throw fail(`${what} ${JSON.stringify(name)} was not read`);
  if ('error' in looked) throw fail(looked.error);
  if ('missing' in looked) {
    if (optional) return [];
    throw fail(`${what} ${JSON.stringify(name)} not found`);
  }
  const data = looked.object;
  if (!items?.length)
    return [...data].map(([key, bytes]) => ({ path: key, data: bytes, mode: defaultMode }));
  const files: FileContent[] = [];
  for (const it of items) {
    const bytes = data.get(it.key);
    if (!bytes) {
      if (optional) continue;
      throw fail(
        `${what} references non-existent ${what === 'secret' ? 'secret' : 'config'} key: ${it.key}`,
      );
    }
    files.push({ path: it.path, data: bytes, mode: it.mode ?? defaultMode });
  }
  return files;
}

const map = <T, U>(l: Lookup<T> | undefined, f: (t: T) => U): Lookup<U> | undefined =>
  l && ('object' in l ? { object: f(l.object) } : l);

const configMapData = (cm: k8s.V1ConfigMap) =>
  new Map<string, Buffer>([
    ...Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v)] as const),
    ...Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const),
  ]);

const secretData = (s: k8s.V1Secret) =>
  new Map<string, Buffer>(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const),
  );

function downwardFiles(
  pod: k8s.V1Pod,
  items: k8s.V1DownwardAPIVolumeFile[] | undefined,
  defaultMode: number,
  inputs: VolumeInputs,
  fail: Fail,
): FileContent[] {
  return (items ?? []).map((it) => {
    let text: string;
    if (it.fieldRef) text = fieldFile(pod, it.fieldRef.fieldPath, fail);
    else if (it.resourceFieldRef) {
      const first = pod.spec!.containers[0];
      text = resourceValue(pod, first, it.resourceFieldRef, inputs.node.allocatable, fail);
    } else
      throw fail(
        `downwardAPI item ${it.path} has neither fieldRef nor resourceFieldRef`,
        'InvalidInput',
      );
    return { path: it.path, data: Buffer.from(text), mode: it.mode ?? defaultMode };
  });
}

/**
 * The kubelet's FsUser (volume util's FsUserFrom): the runAsUser every init, app and ephemeral
 * container has in effect (its own, else the pod's), when they all have one and it is the same.
 */
export function fsUserOf(pod: k8s.V1Pod): number | undefined {
  const spec = pod.spec;
  const all = [
    ...(spec?.initContainers ?? []),
    ...(spec?.containers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ];
  let user: number | undefined;
  for (const c of all) {
    const u = c.securityContext?.runAsUser ?? spec?.securityContext?.runAsUser;
    if (u === undefined || (user !== undefined && u !== user)) return undefined;
    user = u;
  }
  return user;
}

/** The files of a computed volume; throws the container's ContainerConfigError via `fail`. */
export function volumeContent(
  pod: k8s.V1Pod,
  v: k8s.V1Volume,
  inputs: VolumeInputs,
  fail: Fail,
): VolumeContent {
  let files: FileContent[] = [];
  if (v.configMap) {
    const { name = '', items, optional, defaultMode = DEFAULT_MODE } = v.configMap;
    files = keyFiles(
      'configmap',
      name,
      map(inputs.configMaps.get(name), configMapData),
      items,
      optional,
      defaultMode,
      fail,
    );
  } else if (v.secret) {
    const { secretName = '', items, optional, defaultMode = DEFAULT_MODE } = v.secret;
    files = keyFiles(
      'secret',
      secretName,
      map(inputs.secrets.get(secretName), secretData),
      items,
      optional,
      defaultMode,
      fail,
    );
  } else if (v.downwardAPI) {
    files = downwardFiles(
      pod,
      v.downwardAPI.items,
      v.downwardAPI.defaultMode ?? DEFAULT_MODE,
      inputs,
      fail,
    );
  } else if (v.projected) {
    const mode = v.projected.defaultMode ?? DEFAULT_MODE;
    v.projected.sources?.forEach((s, i) => {
      if (s.configMap) {
        const { name = '', items, optional } = s.configMap;
        files.push(
          ...keyFiles(
            'configmap',
            name,
            map(inputs.configMaps.get(name), configMapData),
            items,
            optional,
            mode,
            fail,
          ),
        );
      } else if (s.secret) {
        const { name = '', items, optional } = s.secret;
        files.push(
          ...keyFiles(
            'secret',
            name,
            map(inputs.secrets.get(name), secretData),
            items,
            optional,
            mode,
            fail,
          ),
        );
      } else if (s.downwardAPI) {
        files.push(...downwardFiles(pod, s.downwardAPI.items, mode, inputs, fail));
      } else if (s.serviceAccountToken) {
        const t = inputs.tokens.get(tokenKey(v.name, i));
        if (!t) throw fail(`the token of volume ${v.name} was not requested`);
        if ('error' in t) throw fail(t.error);
        if ('missing' in t) throw fail(`no token for volume ${v.name}`);
        // As the kubelet: 0600 and the FsUser's when there is one, 0600 (then 0640) with an
        // fsGroup; else the volume's mode.
        const fsUser = fsUserOf(pod);
        const fsGroup = pod.spec?.securityContext?.fsGroup;
        files.push({
          path: s.serviceAccountToken.path,
          data: Buffer.from(t.object.token),
          mode: fsUser !== undefined || fsGroup !== undefined ? 0o600 : mode,
          ...(fsUser !== undefined && { uid: fsUser }),
        });
      } else
        throw fail(
          `projected volume ${v.name}: a source this node does not support`,
          'InvalidInput',
        );
    });
  }
  // Nothing is written unless every file is one the kubelet would write.
  for (const f of files) {
    const bad = badFilePath(f.path) ?? badFileMode(f.mode);
    if (bad) throw fail(`volume ${v.name}: ${bad}`, 'InvalidInput');
  }
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  if (fsGroup === undefined) return { files, owner: {} };
  // SetVolumeOwnership: the group owns them and may read them.
  for (const f of files) f.mode |= 0o440;
  return { files, owner: { gid: fsGroup } };
}
