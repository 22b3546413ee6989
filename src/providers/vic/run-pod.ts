// One pod on a VCH without a cluster, for `vic-kubelet run POD.yaml`: the pod is read and
// checked, created through the VIC provider as the node would, its containers' output is
// followed (stdout to `out`, stderr to `err`, each line prefixed with its container's name when
// there are several), and its status changes are told on `err`. It ends when the pod has
// finished (Succeeded or Failed), or when `signal` aborts (the pod is then stopped within its
// grace period), or when a container cannot be made (its image cannot be pulled: 125). The pod
// is removed from the VCH at the end. The exit code: 0 when it succeeded, else the first
// non-zero exit code of its containers (1 if none says).
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { errorMessage, NodeError } from '../../node/errors.js';
import { splitRunDocuments, type RunObjects } from './run-manifest.js';
import type { VicProvider } from './vic-provider.js';

/** Parses a pod manifest (YAML or JSON); InvalidInput with one clear line when it is not one. */
export function parsePodManifest(text: string, source: string): k8s.V1Pod {
  return parseRunManifest(text, source).pod;
}

/**
 * Parses the manifest of `run`: one pod, and the ConfigMaps and Secrets beside it (YAML
 * documents); InvalidInput with one clear line when it is not that.
 */
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function parseRunManifest(
  text: string,
  source: string,
): { pod: k8s.V1Pod; objects: RunObjects } {
  let doc: unknown;
  let objects: RunObjects;
  try {
    const all = k8s.loadAllYaml(text).filter((d) => d !== null && d !== undefined);
    const split = splitRunDocuments(all, source);
    const docs = split.pod;
    objects = split.objects;
    if (docs.length !== 1) throw new Error(`want exactly one pod document, found ${docs.length}`);
    doc = docs[0];
  } catch (e) {
    if (e instanceof NodeError) throw e;
    // The client's deserializer reads apiVersion and kind as strings, and trips on others.
    const why =
      e instanceof TypeError
        ? 'apiVersion and kind must be strings'
        : errorMessage(e).split('\n')[0];
    throw new NodeError('InvalidInput', `${source}: not a pod manifest: ${why}`);
  }
  const o = doc as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown } };
  if (typeof o !== 'object' || o === null || o.kind !== 'Pod')
    throw new NodeError('InvalidInput', `${source}: want a manifest of kind Pod`);
  if (o.apiVersion !== undefined && o.apiVersion !== 'v1')
    throw new NodeError(
      'InvalidInput',
      `${source}: want apiVersion v1, not ${String(o.apiVersion)}`,
    );
  if (typeof o.metadata?.name !== 'string' || o.metadata.name === '')
    throw new NodeError('InvalidInput', `${source}: the pod needs metadata.name`);
  // No apiserver checks these names here: the same rule it applies (a DNS-1123 subdomain).
  for (const [field, value] of [
    ['metadata.name', o.metadata.name],
    ['metadata.namespace', (o.metadata as { namespace?: unknown }).namespace ?? 'default'],
  ] as const)
    if (typeof value !== 'string' || !dnsSubdomain.test(value) || value.length > 253)
      throw new NodeError(
        'InvalidInput',
        `${source}: ${field} ${JSON.stringify(value)} is not a lowercase DNS-1123 subdomain`,
      );
  const pod = doc as k8s.V1Pod;
  pod.metadata!.namespace ??= 'default';
  pod.metadata!.uid ??= randomUUID();
  pod.metadata!.creationTimestamp ??= new Date();
  return { pod, objects };
}

export interface RunPodOptions {
  provider: VicProvider;
  pod: k8s.V1Pod;
  out: Writable;
  err: Writable;
  /** Stops the pod (Ctrl-C). */
  signal?: AbortSignal;
}

const finished = (s?: k8s.V1PodStatus) => s?.phase === 'Succeeded' || s?.phase === 'Failed';

/** Waiting reasons after which, with no one to fix the image or the spec, waiting is pointless. */
const HOPELESS = new Set(['ErrImagePull', 'ErrImageNeverPull', 'CreateContainerError']);

/** The exit code of a pod whose containers could not be made (docker run's for the same). */
export const NOT_CREATED_EXIT_CODE = 125;

/** `container: message` of the first container that cannot be made, if any. */
function hopeless(s?: k8s.V1PodStatus): string | undefined {
  for (const c of s?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && HOPELESS.has(w.reason)) return `${c.name}: ${w.message ?? w.reason}`;
  }
  return undefined;
}

/** One line saying where the pod is: `Running (web: running, side: CrashLoopBackOff)`. */
export function describeStatus(s: k8s.V1PodStatus): string {
  const parts = (s.containerStatuses ?? []).map((c) => {
    const st = c.state ?? {};
    const what = st.running
      ? 'running'
      : st.terminated
        ? `exited ${st.terminated.exitCode}${st.terminated.reason ? ` (${st.terminated.reason})` : ''}`
        : (st.waiting?.reason ?? 'waiting');
    const message = st.waiting?.message ? `: ${st.waiting.message}` : '';
    return `${c.name}: ${what}${message}`;
  });
  return `${s.phase}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

export async function runPod(o: RunPodOptions): Promise<number> {
  const { provider, pod } = o;
  const { namespace, name } = pod.metadata as { namespace: string; name: string };
  const key = `${namespace}/${name}`;
  let lastLine = '';
  let latest: k8s.V1PodStatus | undefined;
  let wake: () => void = () => {};
  provider.notifyPods((p) => {
    if (p.metadata?.namespace !== namespace || p.metadata?.name !== name) return;
    latest = p.status;
    const line = describeStatus(p.status ?? {});
    if (line !== lastLine) o.err.write(`pod ${key}: ${line}\n`);
    lastLine = line;
    wake();
  });
  await provider.createPod(pod);
  const followers = new Map<string, Promise<void>>();
  const several = pod.spec!.containers.length > 1;
  const stopped = new AbortController();
  const follow = (container: string) => {
    for (const [stream, sink] of [
      ['stdout', o.out],
      ['stderr', o.err],
    ] as const) {
      followers.set(
        `${container}/${stream}`,
        (async () => {
          const logs = await provider.getContainerLogs(namespace, name, container, {
            follow: true,
            stream,
            signal: stopped.signal,
          });
          let rest = '';
          for await (const chunk of logs) {
            const text = rest + chunk.toString();
            const lines = text.split('\n');
            rest = lines.pop()!;
            for (const l of lines) sink.write(several ? `[${container}] ${l}\n` : `${l}\n`);
          }
          if (rest) sink.write(several ? `[${container}] ${rest}\n` : `${rest}\n`);
        })().catch((e: unknown) => {
          if (!stopped.signal.aborted) o.err.write(`logs of ${container}: ${errorMessage(e)}\n`);
        }),
      );
    }
  };
  let aborted = false;
  let cannot: string | undefined;
  const onAbort = () => {
    aborted = true;
    wake();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (!aborted && !finished(latest)) {
      // Without a cluster no one will push the image or fix the spec: give up at once.
      cannot = hopeless(latest);
      if (cannot) {
        o.err.write(`pod ${key}: cannot run: ${cannot}\n`);
        break;
      }
      // Follow each container's output from when it has started.
      for (const c of latest?.containerStatuses ?? [])
        if ((c.state?.running || c.state?.terminated) && !followers.has(`${c.name}/stdout`))
          follow(c.name);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 1000);
      });
      latest = (await provider.getPodStatus(namespace, name)) ?? latest;
    }
    // Containers that ended before they were followed still have their output read once.
    for (const c of latest?.containerStatuses ?? [])
      if (c.state?.terminated && c.containerID && !followers.has(`${c.name}/stdout`))
        follow(c.name);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    if (aborted) o.err.write(`pod ${key}: stopping\n`);
    await provider.deletePod(pod).catch(() => {});
    // The followers end when their containers stop; then the pod goes.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(followers.values()),
      new Promise((r) => (timer = setTimeout(r, 60_000))),
    ]);
    clearTimeout(timer); // a pending timer would keep `vic-kubelet run` from exiting
    stopped.abort();
    while (await provider.getPod(namespace, name)) await new Promise((r) => setTimeout(r, 200));
  }
  if (cannot) return NOT_CREATED_EXIT_CODE;
  if (latest?.phase === 'Succeeded') return 0;
  const codes = (latest?.containerStatuses ?? []).map((c) => c.state?.terminated?.exitCode ?? 0);
  return codes.find((c) => c !== 0) ?? (aborted ? 130 : 1);
}
