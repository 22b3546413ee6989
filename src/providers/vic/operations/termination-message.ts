// A container's termination message as the kubelet reports it in state.terminated.message:
// what the run left at its terminationMessagePath (read by the VCH at its exit, 4 KiB at most,
// the file never trusted: ProcessConfig.terminationMessage), or, under terminationMessagePolicy
// FallbackToLogsOnError when that is empty and the run failed, the end of its log: the last 80
// lines, at most 2 KiB.
import type * as k8s from '@kubernetes/client-node';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';

/** As the API server defaults it. */
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const FALLBACK_LINES = 80;
export const FALLBACK_BYTES = 2048;

/** Which run of a task a message belongs to. */
const runKey = (t: TaskInfo) =>
  `${t.id}/${t.restartCount}/${t.processConfig.finishedAt ?? t.processConfig.stopTime ?? ''}`;

/** Log tails read for FallbackToLogsOnError, by pod and run: read once per run. */
const fallbacks = new WeakMap<VicPod, Map<string, string>>();

function wantsFallback(spec: k8s.V1Container | undefined, t: TaskInfo): boolean {
  const p = t.processConfig;
  return (
    spec?.terminationMessagePolicy === 'FallbackToLogsOnError' &&
    p.status === 'exited' &&
    (p.exitCode ?? 0) !== 0 &&
    !p.terminationMessage
  );
}

/** The last `FALLBACK_BYTES` of the last `FALLBACK_LINES` lines. */
export function logTail(text: string): string {
  const b = Buffer.from(text);
  if (b.length <= FALLBACK_BYTES) return text;
  return b.subarray(b.length - FALLBACK_BYTES).toString('utf8');
}

/** Reads the log tail of each run that exited failed under FallbackToLogsOnError (once). */
export async function readFallbacks(vp: VicPod, isolation: IsolationProxy): Promise<void> {
  let seen = fallbacks.get(vp);
  for (const t of vp.info?.tasks ?? []) {
    const spec = vp.pod.spec?.containers.find((c) => c.name === t.name);
    if (!wantsFallback(spec, t)) continue;
    const key = runKey(t);
    if (seen?.has(key)) continue;
    let text = '';
    try {
      const stream = await isolation.logs(t.id, { tail: FALLBACK_LINES });
      for await (const chunk of stream) text += String(chunk);
    } catch {
      continue; // asked again at the next look
    }
    if (!seen) fallbacks.set(vp, (seen = new Map()));
    // Only the latest run's is kept.
    for (const k of seen.keys()) if (k.startsWith(`${t.id}/`)) seen.delete(k);
    seen.set(key, logTail(text));
  }
}

/** The message of an exited run: its termination message, else its log tail (if read). */
export function terminationMessageOf(vp: VicPod | undefined, t: TaskInfo): string | undefined {
  const p = t.processConfig;
  if (p.terminationMessage) return p.terminationMessage;
  return vp ? fallbacks.get(vp)?.get(runKey(t)) : undefined;
}
