// The virtual kubelet put together: node controller, pod controller and kubelet API over one
// Kube client and one provider. Started by `vic-kubelet node` and by the integration tests.
import type * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { NodeMetrics } from './metrics/node-metrics.js';
import { EvictionManager } from './pressure/eviction-manager.js';
import { Authenticator } from './kubelet-api/auth.js';
import { KubeletServer } from './kubelet-api/server.js';
import { DEFAULT_KUBE_OPTIONS, Kube, type KubeOptions } from './kube.js';
import type { Logger } from '../logging/logger.js';
import { NodeController, type NodeControllerOptions } from './node-controller.js';
import { PodController, type PodControllerOptions } from './pod-controller.js';
import type { Provider } from './provider.js';

export interface VirtualKubeletOptions {
  kubeConfig: k8s.KubeConfig;
  provider: Provider;
  nodeName: string;
  log: Logger;
  kube?: KubeOptions;
  /** Kubelet API: address to listen on, port (0 picks one), serving cert/key, client CA. */
  listen: {
    host?: string;
    port: number;
    cert: Buffer | string;
    key: Buffer | string;
    clientCa?: Buffer | string;
  };
  node?: Partial<Omit<NodeControllerOptions, 'nodeName' | 'kubeletPort'>>;
  pods?: Partial<Omit<PodControllerOptions, 'nodeName'>>;
  /** How often the eviction manager looks (ms); default 10 s, as the kubelet's. */
  evictionIntervalMs?: number;
}

export class VirtualKubelet {
  readonly kube: Kube;
  readonly server: KubeletServer;
  /** The node's own metrics, served at the kubelet API's /metrics. */
  readonly metrics: NodeMetrics;
  nodeController: NodeController | undefined;
  podController: PodController | undefined;
  private evictions: EvictionManager | undefined;
  port = 0;
  private stopped = false;

  constructor(private readonly o: VirtualKubeletOptions) {
    const running = () =>
      (this.podController?.pods() ?? []).filter((p) => p.status?.phase === 'Running').length;
    this.metrics = new NodeMetrics(new Registry(), running, { processMetrics: true });
    this.kube = new Kube(o.kubeConfig, {
      ...(o.kube ?? DEFAULT_KUBE_OPTIONS),
      observe: (method, host, code, seconds) =>
        this.metrics.restRequest(method, host, code, seconds),
    });
    this.server = new KubeletServer(
      o.provider,
      new Authenticator(this.kube, o.nodeName),
      { ...o.listen, nodeName: o.nodeName, metrics: this.metrics },
      o.log,
    );
  }

  async start(): Promise<void> {
    // The API first: the Node publishes its port, which must answer once the Node exists.
    this.port = await this.server.start();
    this.nodeController = new NodeController(
      this.kube,
      this.o.provider,
      { ...this.o.node, nodeName: this.o.nodeName, kubeletPort: this.port, metrics: this.metrics },
      this.o.log,
    );
    await this.nodeController.start();
    // stop() may have come while we waited for the apiserver: start nothing more.
    if (this.stopped) return;
    this.podController = new PodController(
      this.kube,
      this.o.provider,
      { ...this.o.pods, nodeName: this.o.nodeName, metrics: this.metrics },
      this.o.log,
    );
    await this.podController.start();
    if (this.stopped) {
      this.podController.stop();
      return;
    }
    const nodes = this.nodeController;
    const pods = this.podController;
    this.evictions = new EvictionManager({
      provider: this.o.provider,
      met: () => nodes.met,
      pods: () => pods.pods(),
      intervalMs: this.o.evictionIntervalMs,
      log: this.o.log,
    });
    this.evictions.start();
    this.o.log.info({ node: this.o.nodeName, port: this.port }, 'virtual kubelet running');
  }

  /** Stops renewing and reconciling and closes the API; the provider's pods keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.evictions?.stop();
    this.podController?.stop();
    this.nodeController?.stop();
    await this.server.stop();
  }
}
