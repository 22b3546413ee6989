// Where the runtime finds the binaries the project builds (tether/build.sh → dist/tether/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: the nearest directory above this module holding package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('runtime: cannot find the project root above ' + dir);
    dir = up;
  }
  return dir;
}

/** dist/tether/tether, built by `npm run build` (from src/ and from dist/ alike). */
export function defaultTetherPath(): string {
  return join(projectRoot(), 'dist', 'tether', 'tether');
}
