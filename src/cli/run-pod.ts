// The work of `vic-kubelet run POD.yaml` (the command's definition is in run.ts): read the pod,
// open the embedded VCH, load images asked for, run the pod through the VIC provider as the
// node would, and answer with its exit code. Ctrl-C (SIGINT) or SIGTERM stops the pod and
// removes it; a second Ctrl-C leaves at once, the pod left to the VCH.
import { readFile, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../logging/logger.js';
import { createVicProvider } from '../providers/vic/index.js';
import { manifestSources } from '../providers/vic/run-manifest.js';
import { parseRunManifest, runPod } from '../providers/vic/run-pod.js';
import { parseLogRotation } from '../runtime/log-rotation.js';
import { parseRuntimeChoice } from '../vch/backends.js';
import { openEmbeddedVch } from '../vch/embedded.js';
import { UsageError } from './errors.js';
import { checkRegistries } from './node-run.js';

export interface RunOptions {
  stateDir?: string;
  insecureRegistry: string[];
  load: string[];
  runtime: string;
  bridgeNetwork?: string;
  containerLogMaxSize?: string;
  containerLogMaxFiles?: string;
  logLevel: string;
}

/** Where `run` keeps its VCH when not told: the XDG state directory. */
export function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'vic-kubelet');
}

export async function runPodCommand(file: string, o: RunOptions): Promise<number> {
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel))
    throw new UsageError(
      `--log-level ${JSON.stringify(o.logLevel)}: want debug, info, warn or error`,
    );
  const registries = checkRegistries(o.insecureRegistry);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const runtime = parseRuntimeChoice(o.runtime);
  const logRotation = parseLogRotation({
    maxSize: o.containerLogMaxSize,
    maxFiles: o.containerLogMaxFiles,
  });
  const { pod, objects } = parseRunManifest(text, file);
  const stateDir = resolve(o.stateDir ?? defaultStateDir());
  try {
    await mkdir(stateDir, { recursive: true });
  } catch (e) {
    throw new UsageError(
      `--state-dir ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}`,
    );
  }

  const log = createLogger({ level: o.logLevel });
  const vch = await openEmbeddedVch({
    stateDir,
    insecureRegistries: registries,
    logger: log,
    runtime,
    logRotation,
    ...(o.bridgeNetwork !== undefined && { bridgeNetwork: o.bridgeNetwork }),
  });
  const provider = createVicProvider({
    persona: vch.url,
    portlayer: vch.portlayerUrl,
    nodeIP: '127.0.0.1',
    log,
    // The ConfigMaps and Secrets of the manifest, for the pod's volumes and env.
    sources: manifestSources(objects),
  });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) return stop.abort();
    // Asked twice: leave now; the VCH's containers are where the next run or node finds them.
    process.stderr.write(`vic-kubelet: ${signal} again: leaving the pod on the VCH\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (`vic-kubelet run pod.yaml | head`) ends other commands at once;
  // here it stops the pod first, so that the pod is still removed. Later writes go nowhere.
  const outputs = [process.stdout, process.stderr].map((stream) => {
    const before = stream.listeners('error') as ((e: Error) => void)[];
    stream.removeAllListeners('error');
    stream.on('error', () => stop.abort());
    return { stream, before };
  });
  try {
    for (const archive of o.load) {
      let loaded;
      try {
        loaded = await vch.vch.loadImages(resolve(archive));
      } catch (e) {
        throw new UsageError(`--load ${archive}: ${(e as Error).message}`);
      }
      for (const name of loaded.references) process.stderr.write(`loaded image ${name}\n`);
    }
    return await runPod({
      provider,
      pod,
      out: process.stdout,
      err: process.stderr,
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const { stream, before } of outputs)
      if (!stream.destroyed) {
        stream.removeAllListeners('error');
        for (const l of before) stream.on('error', l);
      }
    await provider.close();
    await vch.close();
  }
}
