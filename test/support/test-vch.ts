// Test helper (not part of the build): a real VCH in this process — runc runtime with the
// tether, the persona and the portlayer each on a unix socket under `dir` — for integration
// tests of the portlayer and the VIC provider. `close` stops serving and closes the VCH (its
// containers keep running, as a VCH restart leaves them); `cleanup` removes everything.
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRuncRuntime } from '../../src/runtime/runc/index.js';
import { cleanupRuntimeDir, ensureTether } from './runtime.js';
import { createPersonaServer } from '../../src/vch/persona/server.js';
import { Vch } from '../../src/vch/vch.js';
import { createPortlayerServer } from '../../src/vch/portlayer/server.js';

export interface TestVch {
  vch: Vch;
  stateDir: string;
  personaSocket: string;
  portlayerSocket: string;
  /** Stops serving and closes the VCH; containers keep running. */
  close(): Promise<void>;
  /** Opens the VCH again on the same state (a VCH restart). */
  reopen(): Promise<TestVch>;
}

async function listen(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

export async function startTestVch(
  dir: string,
  o: { insecureRegistries?: string[]; maxPods?: number } = {},
): Promise<TestVch> {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  const tether = ensureTether();
  const vch = await Vch.open({
    stateDir,
    insecureRegistries: o.insecureRegistries ?? [],
    runtime: (rdir) => createRuncRuntime({ stateDir: join(rdir, 'runc'), tetherPath: tether }),
  });
  const personaSocket = join(dir, 'persona.sock');
  const portlayerSocket = join(dir, 'portlayer.sock');
  const persona = createPersonaServer(vch, {
    insecureRegistries: o.insecureRegistries ?? [],
    tmpDir: join(stateDir, 'tmp'),
  });
  const portlayer = createPortlayerServer(vch, { maxPods: o.maxPods });
  await listen(persona, personaSocket);
  await listen(portlayer, portlayerSocket);
  const close = async () => {
    for (const s of [persona, portlayer]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await vch.close();
  };
  return {
    vch,
    stateDir,
    personaSocket,
    portlayerSocket,
    close,
    reopen: async () => startTestVch(dir, o),
  };
}

/** Removes the runc containers, mounts and files a test VCH left under `dir`. */
export function cleanupTestVch(dir: string): void {
  cleanupRuntimeDir(dir, join(dir, 'state', 'runtime', 'runc', 'runc'));
}
