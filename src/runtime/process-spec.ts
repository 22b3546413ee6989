// The process a container runs: the image config's defaults merged with what the request asks,
// by Docker's rules. Kubernetes' command and args are Docker's entrypoint and cmd.
import { invalidInput } from './errors.js';
import type { ProcessSpec } from './runtime.js';

/** The fields of an OCI image config's `config` object that shape the process. */
export interface ImageProcessConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

/** What the request (docker run, a pod's container) sets; undefined means "the image's". */
export interface ProcessRequest {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

/** Docker's PATH for images that set none. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalidInput(`image config ${what} is not a list of strings`);
  return v as string[];
}

/** Reads the process fields from an image config's `config` object (unknown JSON). */
export function imageProcessConfig(config: unknown): ImageProcessConfig {
  if (config === undefined || config === null) return {};
  if (typeof config !== 'object' || Array.isArray(config))
    throw invalidInput('image config "config" is not an object');
  const c = config as Record<string, unknown>;
  const str = (k: string) => {
    const v = c[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw invalidInput(`image config ${k} is not a string`);
    return v;
  };
  return {
    Entrypoint: strings(c.Entrypoint, 'Entrypoint'),
    Cmd: strings(c.Cmd, 'Cmd'),
    Env: strings(c.Env, 'Env'),
    WorkingDir: str('WorkingDir'),
    User: str('User'),
    StopSignal: str('StopSignal'),
  };
}

/** KEY=value lists merged by key: later wins, first position kept. */
export function mergeEnv(...lists: (string[] | undefined)[]): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list ?? []) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (key === '') throw invalidInput(`invalid environment entry ${JSON.stringify(kv)}`);
      if (!values.has(key)) order.push(key);
      values.set(key, kv);
    }
  }
  return order.map((k) => values.get(k)!);
}

/**
 * Docker's rules: an entrypoint in the request replaces the image's and drops the image's Cmd
 * (unless the request gives a cmd too); a cmd in the request replaces the image's Cmd; env is
 * merged by key with the request winning; PATH defaults when neither sets it.
 */
export function mergeProcessSpec(image: ImageProcessConfig, req: ProcessRequest): ProcessSpec {
  const entrypoint = req.entrypoint ?? image.Entrypoint ?? [];
  const cmd = req.cmd ?? (req.entrypoint !== undefined ? [] : (image.Cmd ?? []));
  const args = [...entrypoint, ...cmd];
  if (args.length === 0 || args[0] === '')
    throw invalidInput('no command: the image has no Entrypoint or Cmd and the request none');
  let env = mergeEnv(image.Env ?? undefined, req.env);
  if (!env.some((kv) => kv.startsWith('PATH='))) env = [DEFAULT_PATH, ...env];
  const cwd = req.workingDir || image.WorkingDir || '/';
  if (!cwd.startsWith('/'))
    throw invalidInput(`working dir ${JSON.stringify(cwd)} is not absolute`);
  return { args, env, cwd, user: req.user ?? image.User ?? '' };
}
