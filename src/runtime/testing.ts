// Helpers shared by the runtime tests (not part of the package's API).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTetherPath, projectRoot } from './paths.js';

/**
 * The tether binary, built first when it is missing or older than any file in tether/, so a
 * test never runs a stale binary. Throws with the compiler's output when the build fails.
 */
export function ensureTether(): string {
  const bin = defaultTetherPath();
  const src = join(projectRoot(), 'tether');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  const r = spawnSync('bash', [join(src, 'build.sh')], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`tether/build.sh failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return bin;
}
