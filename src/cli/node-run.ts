// The `vic-kubelet node` daemon: checks the flags, makes the provider — the VIC provider over an
// embedded VCH (--state-dir) or a remote one (--vch), or a provider module (tests, other
// providers) — and runs the virtual kubelet until SIGTERM or SIGINT. Stopping leaves the pods
// running in the VCH; the next start finds them again (the command's definition is in node.ts).
import { parseDnsFlags } from './dns-flags.js';
import { parseAllowedUnsafeSysctls } from './sysctl-flags.js';
import { parseMaxLayerExpansion } from '../image/layer-limits.js';
import { parseLogRotation } from '../runtime/log-rotation.js';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { createLogger, type Logger } from '../logging/logger.js';
import type { Provider } from '../node/provider.js';
import { parseTaints } from '../node/taints.js';
import { DEFAULT_EVICTION_HARD, parseThresholds } from '../node/pressure/thresholds.js';
import { VirtualKubelet } from '../node/virtual-kubelet.js';
import { createVicProvider } from '../providers/vic/index.js';
import { UsageError } from './errors.js';

export interface NodeOptions {
  kubeconfig: string;
  nodeName: string;
  nodeIp: string;
  address: string;
  port: string;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCaFile?: string;
  kubeApiQps: string;
  kubeApiBurst: string;
  registerWithTaints: string;
  providerModule?: string;
  stateDir?: string;
  vch?: string;
  insecureRegistry: string[];
  runtime?: string;
  seccompProfileRoot?: string;
  allowedUnsafeSysctls?: string;
  allowPrivileged?: boolean;
  allowHostNamespaces?: boolean;
  clusterDns?: string;
  clusterDomain: string;
  resolvConf: string;
  bridgeNetwork?: string;
  maxLayerExpansion?: string;
  containerLogMaxSize?: string;
  containerLogMaxFiles?: string;
  nodeStatusUpdateFrequency: string;
  evictionHard?: string;
  maxPods?: string;
  logLevel: string;
}

/** A duration flag as Go writes one, in whole units: 500ms, 10s, 1m, 1h; ms. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(v);
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]!]! : NaN;
  if (!(ms > 0))
    throw new UsageError(`${flag} ${JSON.stringify(v)}: want a duration such as 10s or 1m`);
  return ms;
}

/**
 * What a provider module exports: `createProvider`, given the node it serves. The VIC provider
 * is built in; a module is for test doubles and other providers.
 */
export interface ProviderModule {
  createProvider(context: {
    nodeName: string;
    nodeIP: string;
    log: Logger;
    kubeConfig: k8s.KubeConfig;
  }): Provider | Promise<Provider>;
}

/** The provider of the node and what to close after it when the node stops. */
interface ProviderSetup {
  provider: Provider;
  close(): Promise<void>;
}

function wholeNumber(
  text: string,
  flag: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(
      `${flag} ${JSON.stringify(text)}: want a whole number from ${min} to ${max}`,
    );
  return Number(text);
}

function readFlagFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

export async function runNode(o: NodeOptions): Promise<void> {
  const port = wholeNumber(o.port, '--port', 0, 65535);
  const qps = wholeNumber(o.kubeApiQps, '--kube-api-qps', 1);
  const burst = wholeNumber(o.kubeApiBurst, '--kube-api-burst', 1);
  if (!isIP(o.nodeIp))
    throw new UsageError(`--node-ip ${JSON.stringify(o.nodeIp)} is not an IP address`);
  if (!isIP(o.address))
    throw new UsageError(`--address ${JSON.stringify(o.address)} is not an IP address`);
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel))
    throw new UsageError(
      `--log-level ${JSON.stringify(o.logLevel)}: want debug, info, warn or error`,
    );
  if (!o.tlsCertFile || !o.tlsPrivateKeyFile)
    throw new UsageError(
      '--tls-cert-file and --tls-private-key-file are required: the apiserver must trust the kubelet API',
    );
  let taints;
  try {
    taints = parseTaints(o.registerWithTaints);
  } catch (err) {
    throw new UsageError(`--register-with-taints: ${(err as Error).message}`);
  }
  const statusUpdateMs = parseDuration(
    '--node-status-update-frequency',
    o.nodeStatusUpdateFrequency ?? '1m',
  );
  let evictionHard;
  try {
    evictionHard = parseThresholds(o.evictionHard ?? DEFAULT_EVICTION_HARD);
  } catch (err) {
    throw new UsageError(`--eviction-hard: ${(err as Error).message}`);
  }
  const cert = readFlagFile(o.tlsCertFile, '--tls-cert-file');
  const key = readFlagFile(o.tlsPrivateKeyFile, '--tls-private-key-file');
  const clientCa = o.clientCaFile ? readFlagFile(o.clientCaFile, '--client-ca-file') : undefined;
  readFlagFile(o.kubeconfig, '--kubeconfig');
  const kubeConfig = new k8s.KubeConfig();
  try {
    kubeConfig.loadFromFile(o.kubeconfig);
  } catch (err) {
    throw new UsageError(`--kubeconfig ${o.kubeconfig}: ${(err as Error).message.split('\n')[0]}`);
  }

  const log = createLogger({ level: o.logLevel });
  const setup = await makeProvider(o, log, kubeConfig);
  const provider = setup.provider;

  const vk = new VirtualKubelet({
    kubeConfig,
    provider,
    nodeName: o.nodeName,
    log,
    kube: { qps, burst },
    listen: { host: o.address, port, cert, key, clientCa },
    node: {
      taints,
      nodeIP: o.nodeIp,
      statusUpdateMs,
      evictionHard,
    },
  });
  // Signals first: a SIGTERM during start-up still ends us cleanly.
  const stopped = new Promise<NodeJS.Signals>((resolveSignal) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, resolveSignal);
  });
  try {
    await Promise.race([vk.start(), stopped]);
  } catch (err) {
    // Could not register (the apiserver unreachable, refused credentials): let go of what
    // started, so that the process ends with the one-line error.
    await vk.stop();
    await setup.close();
    throw err;
  }
  const signal = await stopped;
  log.info(
    { signal },
    'stopping: the lease is no longer renewed; pods keep running in the provider',
  );
  await vk.stop();
  await setup.close();
  log.info('stopped');
}

/** Which provider the flags ask for, made and ready to use. */
async function makeProvider(
  o: NodeOptions,
  log: Logger,
  kubeConfig: k8s.KubeConfig,
): Promise<ProviderSetup> {
  const registries = checkRegistries(o.insecureRegistry);
  const allowedUnsafeSysctls = parseAllowedUnsafeSysctls(o.allowedUnsafeSysctls);
  const dns = parseDnsFlags(o);
  const maxLayerExpansion = parseMaxLayerExpansion(o.maxLayerExpansion);
  const hostAccess = {
    allowPrivileged: o.allowPrivileged === true,
    allowHostNamespaces: o.allowHostNamespaces === true,
  };
  const rotationGiven = o.containerLogMaxSize !== undefined || o.containerLogMaxFiles !== undefined;
  const logRotation = parseLogRotation({
    maxSize: o.containerLogMaxSize,
    maxFiles: o.containerLogMaxFiles,
  });
  if (rotationGiven && (o.providerModule !== undefined || o.vch !== undefined))
    throw new UsageError(
      "--container-log-max-size and --container-log-max-files are the VCH's settings: give them to the VCH (vch serve), not with --vch or --provider-module",
    );
  const maxPods = o.maxPods === undefined ? undefined : wholeNumber(o.maxPods, '--max-pods', 1);
  if (maxPods !== undefined && o.stateDir === undefined)
    throw new UsageError("--max-pods is the embedded VCH's setting: it goes with --state-dir");
  if (o.providerModule !== undefined) {
    if (
      o.vch !== undefined ||
      o.stateDir !== undefined ||
      o.runtime !== undefined ||
      o.bridgeNetwork !== undefined ||
      o.maxLayerExpansion !== undefined ||
      registries.length > 0
    )
      throw new UsageError(
        '--provider-module runs its own provider: --vch, --state-dir, --runtime, --bridge-network, --max-layer-expansion and --insecure-registry do not go with it',
      );
    // The DNS flags are the VIC provider's: a module's provider would never see them.
    if (dns.clusterDns.length > 0)
      throw new UsageError(
        "--cluster-dns is the VIC provider's setting: it does not go with --provider-module",
      );
    const provider = await loadProviderModule(o.providerModule, {
      nodeName: o.nodeName,
      nodeIP: o.nodeIp,
      log,
      kubeConfig,
    });
    return { provider, close: async () => {} };
  }
  if (o.vch !== undefined) {
    if (o.runtime !== undefined)
      throw new UsageError("--runtime is the VCH's setting: give it to the VCH that --vch names");
    if (o.maxLayerExpansion !== undefined)
      throw new UsageError(
        "--max-layer-expansion is the VCH's setting: give it to the VCH that --vch names",
      );
    if (o.bridgeNetwork !== undefined)
      throw new UsageError(
        "--bridge-network is the VCH's setting: give it to the VCH that --vch names",
      );
    if (registries.length > 0)
      throw new UsageError(
        "--insecure-registry is the VCH's setting: give it to the VCH that --vch names",
      );
    const { vchEndpoints } = await import('../vch/address.js');
    const endpoints = vchEndpoints(o.vch);
    const provider = createVicProvider({
      ...endpoints,
      nodeIP: o.nodeIp,
      log,
      kubeConfig,
      seccompProfileRoot: o.seccompProfileRoot && resolve(o.seccompProfileRoot),
      allowedUnsafeSysctls,
      hostAccess,
      dns,
    });
    log.info({ vch: o.vch }, 'driving a remote VCH');
    return { provider, close: () => provider.close() };
  }
  if (o.stateDir === undefined)
    throw new UsageError('--state-dir DIR is required (or --vch URL for a remote VCH)');
  const stateDir = resolve(o.stateDir);
  try {
    await mkdir(stateDir, { recursive: true });
  } catch (e) {
    throw new UsageError(
      `--state-dir ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}`,
    );
  }
  // Loaded only here: the VCH brings the database and the runtime with it.
  const { openEmbeddedVch } = await import('../vch/embedded.js');
  const { parseRuntimeChoice } = await import('../vch/backends.js');
  const embedded = await openEmbeddedVch({
    stateDir,
    insecureRegistries: registries,
    logger: log,
    runtime: parseRuntimeChoice(o.runtime ?? 'auto'),
    logRotation,
    ...(o.bridgeNetwork !== undefined && { bridgeNetwork: o.bridgeNetwork }),
    ...(maxLayerExpansion !== undefined && { maxLayerExpansion }),
    ...(maxPods !== undefined && { maxPods }),
  });
  embedded.vch.on('event', (e) =>
    log.info({ type: e.type, action: e.action, id: e.id }, `vch: ${e.type} ${e.action}`),
  );
  log.info({ stateDir, vch: embedded.url }, 'embedded VCH serving');
  const provider = createVicProvider({
    persona: embedded.url,
    portlayer: embedded.portlayerUrl,
    nodeIP: o.nodeIp,
    log,
    kubeConfig,
    seccompProfileRoot: o.seccompProfileRoot && resolve(o.seccompProfileRoot),
    allowedUnsafeSysctls,
    hostAccess,
    dns,
  });
  return {
    provider,
    close: async () => {
      await provider.close();
      await embedded.close();
    },
  };
}

async function loadProviderModule(
  file: string,
  context: Parameters<ProviderModule['createProvider']>[0],
): Promise<Provider> {
  let mod: Partial<ProviderModule>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Partial<ProviderModule>;
  } catch (err) {
    throw new UsageError(`--provider-module ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof mod.createProvider !== 'function')
    throw new UsageError(`--provider-module ${file} does not export createProvider()`);
  return mod.createProvider(context);
}

const REGISTRY = /^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

/** `--insecure-registry HOST[:PORT]`, each checked. */
export function checkRegistries(list: string[]): string[] {
  for (const r of list)
    if (!REGISTRY.test(r))
      throw new UsageError(`--insecure-registry ${JSON.stringify(r)}: want HOST[:PORT]`);
  return list;
}
