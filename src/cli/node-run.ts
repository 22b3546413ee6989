// The `vic-kubelet node` daemon: checks the flags, loads the provider module, runs the
// virtual kubelet until SIGTERM or SIGINT (the command's definition is in node.ts).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { createLogger, type Logger } from '../node/logger.js';
import type { Provider } from '../node/provider.js';
import { parseTaints } from '../node/taints.js';
import { VirtualKubelet } from '../node/virtual-kubelet.js';
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
  providerModule: string;
  logLevel: string;
}

/**
 * What a provider module exports: `createProvider`, given the node it serves. The VIC
 * provider will be built in; until then (and for test doubles) a provider is a module.
 */
export interface ProviderModule {
  createProvider(context: {
    nodeName: string;
    nodeIP: string;
    log: Logger;
  }): Provider | Promise<Provider>;
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
  let mod: Partial<ProviderModule>;
  try {
    mod = (await import(pathToFileURL(resolve(o.providerModule)).href)) as Partial<ProviderModule>;
  } catch (err) {
    throw new UsageError(
      `--provider-module ${o.providerModule}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof mod.createProvider !== 'function')
    throw new UsageError(`--provider-module ${o.providerModule} does not export createProvider()`);
  const provider = await mod.createProvider({ nodeName: o.nodeName, nodeIP: o.nodeIp, log });

  const vk = new VirtualKubelet({
    kubeConfig,
    provider,
    nodeName: o.nodeName,
    log,
    kube: { qps, burst },
    listen: { host: o.address, port, cert, key, clientCa },
    node: { taints, nodeIP: o.nodeIp },
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
    throw err;
  }
  const signal = await stopped;
  log.info(
    { signal },
    'stopping: the lease is no longer renewed; pods keep running in the provider',
  );
  await vk.stop();
  log.info('stopped');
}
