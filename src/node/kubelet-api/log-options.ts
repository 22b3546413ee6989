// The query of /containerLogs, checked as the apiserver checks PodLogOptions: one clear
// message per mistake, and the provider's options out.
import { invalidInput } from '../errors.js';
import type { ContainerLogOptions } from '../provider.js';

const BOOLEAN = new Set(['true', 'false', '1', '0', '']);

function integer(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw invalidInput(`${name}: ${JSON.stringify(v)} is not an integer`);
  return Number(v);
}

function boolean(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  if (!BOOLEAN.has(v)) throw invalidInput(`${name}: ${JSON.stringify(v)} is not a boolean`);
  return v === 'true' || v === '1' || v === '';
}

/** Parses kubelet's log query; throws InvalidInput for what PodLogOptions validation rejects. */
export function parseLogQuery(q: URLSearchParams, now = Date.now()): ContainerLogOptions {
  const tail = integer(q, 'tailLines');
  const sinceSeconds = integer(q, 'sinceSeconds');
  const limitBytes = integer(q, 'limitBytes');
  const sinceTime = q.get('sinceTime');
  if (sinceSeconds !== undefined && sinceTime !== null)
    throw invalidInput('at most one of sinceTime or sinceSeconds may be specified');
  if (tail !== undefined && tail < 0)
    throw invalidInput('tailLines: must be greater than or equal to 0');
  if (sinceSeconds !== undefined && sinceSeconds < 1)
    throw invalidInput('sinceSeconds: must be greater than 0');
  if (limitBytes !== undefined && limitBytes < 1)
    throw invalidInput('limitBytes: must be greater than 0');
  let since: bigint | undefined;
  if (sinceSeconds !== undefined) since = BigInt(now - sinceSeconds * 1000) * 1_000_000n;
  if (sinceTime !== null) {
    const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(sinceTime)
      ? Date.parse(sinceTime)
      : NaN;
    if (Number.isNaN(ms))
      throw invalidInput(`sinceTime: ${JSON.stringify(sinceTime)} is not an RFC 3339 time`);
    since = BigInt(ms) * 1_000_000n;
  }
  const stream = q.get('stream');
  let which: ContainerLogOptions['stream'];
  if (stream !== null) {
    const map: Record<string, ContainerLogOptions['stream']> = {
      Stdout: 'stdout',
      Stderr: 'stderr',
      All: 'all',
    };
    which = map[stream];
    if (!which)
      throw invalidInput(`stream: ${JSON.stringify(stream)} is not Stdout, Stderr or All`);
    if (which !== 'all' && tail !== undefined)
      throw invalidInput('tailLines: may not be set when stream is not All');
  }
  return {
    tail,
    since,
    limitBytes,
    timestamps: boolean(q, 'timestamps'),
    follow: boolean(q, 'follow'),
    previous: boolean(q, 'previous'),
    stream: which,
  };
}
