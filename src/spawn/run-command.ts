// The one way the VCH runs a host command (runc, mount, umount, CNI plugins, ip): through the
// spawn helper, a small process of its own (helper-main.ts), so no fork copies the VCH and its
// event loop never waits for one. VIC_KUBELET_SPAWN=inline runs commands in this process
// instead (the same execute.ts): for comparing the two, and for debugging.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError } from './errors.js';
import { execute } from './execute.js';
import { SpawnHelper } from './helper-client.js';
import type { CommandOutcome, CommandRequest } from './protocol.js';

export type { CommandOutcome, CommandRequest, FileToOpen } from './protocol.js';
export { CommandError } from './errors.js';

export type CommandOptions = Omit<CommandRequest, 'file' | 'args'>;

let helper: SpawnHelper | undefined;

/** The compiled helper beside this module (dist/spawn/), from src/ (tests) and dist/ alike. */
function helperScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, 'helper-main.js');
  if (existsSync(sibling)) return sibling;
  // Running from src/ (vitest): the build's copy.
  return join(here, '..', '..', 'dist', 'spawn', 'helper-main.js');
}

function inline(): boolean {
  return process.env.VIC_KUBELET_SPAWN === 'inline';
}

/** The helper's pid, when one runs. */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}

/** Runs the command to its end; resolves with how it ended, whatever that was. */
export function runCommand(
  file: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandOutcome> {
  const req: CommandRequest = { file, args, ...options };
  if (inline()) return execute(req);
  helper ??= new SpawnHelper(helperScript());
  return helper.run(req);
}

/**
 * As execFile: resolves with the output of a command that exited 0; rejects with a
 * CommandError (execFile's message, with stdout, stderr and the code) otherwise.
 */
export async function execCommand(
  file: string,
  args: string[],
  options: CommandOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const o = await runCommand(file, args, options);
  if (o.code === 0 && !o.failed && !o.overflow) return { stdout: o.stdout, stderr: o.stderr };
  throw commandError(file, args, o);
}

export function commandError(file: string, args: string[], o: CommandOutcome): CommandError {
  const cmd = [file, ...args].join(' ');
  let message: string;
  let code: string | number | null = o.code;
  if (o.failed) {
    message = `${cmd}: ${o.failed.message}`;
    code = o.failed.code ?? null;
  } else if (o.overflow) message = `${cmd}: ${o.overflow} maxBuffer length exceeded`;
  else if (o.timedOut) message = `${cmd}: timed out`;
  else message = `Command failed: ${cmd}\n${o.stderr}`;
  const killed = o.timedOut === true || o.overflow !== undefined;
  return new CommandError(message, code, o.signal, o.stdout, o.stderr, killed);
}
