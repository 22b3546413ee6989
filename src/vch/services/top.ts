// `docker top`: the container's processes as the host's `ps` shows them, as dockerd does it —
// `ps` runs with the client's ps_args (default -ef), and only the rows whose PID is one of the
// container's (its cgroup's, from the runtime) are kept. ps_args are checked to be ps options,
// never a path or anything a shell would read (no shell is involved either way).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { invalidInput, unavailable } from '../errors.js';

const run = promisify(execFile);
const PS_ARGS = /^[A-Za-z0-9 ,=:%+_-]{0,200}$/;

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** Keeps the rows of `ps` output whose PID column is in `pids`; the last column keeps its spaces. */
export function parsePs(output: string, pids: Set<number>): TopResult {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const Titles = (lines[0] ?? '').trim().split(/\s+/);
  const at = Titles.indexOf('PID');
  if (at < 0)
    throw invalidInput("ps_args must keep the PID column (couldn't find PID field in ps output)");
  const Processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[at]))) continue;
    // The command (last title) is the rest of the line, spaces and all.
    const head = fields.slice(0, Titles.length - 1);
    const rest = line
      .trim()
      .split(/\s+/)
      .slice(Titles.length - 1)
      .join(' ');
    Processes.push([...head, rest]);
  }
  return { Titles, Processes };
}

export async function top(pids: number[], psArgs = '-ef'): Promise<TopResult> {
  if (!PS_ARGS.test(psArgs))
    throw invalidInput(`ps_args ${JSON.stringify(psArgs)}: not ps options`);
  const args = psArgs.split(' ').filter((a) => a !== '');
  let out: string;
  try {
    out = (await run('ps', args, { maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; code?: unknown };
    if (err.code === 'ENOENT') throw unavailable('ps is not installed on the VCH host');
    throw invalidInput(`ps ${psArgs}: ${(err.stderr ?? '').trim().split('\n')[0] ?? 'failed'}`);
  }
  return parsePs(out, new Set(pids));
}
