// A Provider test double: pods live in memory, "run" at once, and each container has a real
// iolog file written with iolog's LogWriter and read back with queryLog, so `kubectl logs`
// with --since, --tail, --timestamps and -f are real end to end. Deleting a pod stops its
// containers after `stopDelayMs` (a container taking its time to shut down), then forgets it.
// A pod is Pending until its containers "start" a moment after createPod returns, so its
// Running status reaches the API only by the controller's poll or, with `push`, by notifyPods.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type * as k8s from '@kubernetes/client-node';
import { LogWriter, queryLog, systemClock } from '../../src/iolog/index.js';
import { NodeError } from '../../src/node/errors.js';
import type {
  ContainerLogOptions,
  NodeConditionsAndAddresses,
  Provider,
} from '../../src/node/provider.js';

interface Container {
  path: string;
  writer: LogWriter;
  sink: WriteStream;
  closed: Promise<void>;
  close(): void;
}

interface Entry {
  stopping?: boolean;
  pod: k8s.V1Pod;
  status: k8s.V1PodStatus;
  containers: Map<string, Container>;
}

export class MemoryProvider implements Provider {
  readonly pods = new Map<string, Entry>();
  /** Every call that changed something, in order: "create ns/name", "delete ns/name", … */
  readonly calls: string[] = [];
  /** How long a deleted pod's containers take to stop. */
  stopDelayMs = 0;
  /** How long after createPod its containers are Running. */
  startDelayMs = 200;
  /** When set, ping fails with this. */
  pingError: Error | undefined;
  /** When set, createPod fails with this. */
  createError: Error | undefined;
  /** When set, deletePod fails with this. */
  deleteError: Error | undefined;
  /** The timestamp of the next log entries; undefined: the system clock. */
  logTime: bigint | undefined;
  /** The node's Ready condition as this provider reports it. */
  private ready: { status: string; reason: string; message: string } = {
    status: 'True',
    reason: 'ProviderReady',
    message: 'the memory provider is ready',
  };
  private nodeChanged: (() => void) | undefined;

  notifyPods?: (callback: (pod: k8s.V1Pod) => void) => void;
  private podChanged: ((pod: k8s.V1Pod) => void) | undefined;

  constructor(
    private readonly logDir: string,
    private readonly nodeIP = '127.0.0.1',
    options: { push?: boolean } = {},
  ) {
    mkdirSync(logDir, { recursive: true });
    if (options.push) this.notifyPods = (callback) => (this.podChanged = callback);
  }

  private changed(e: Entry): void {
    this.podChanged?.({ ...e.pod, status: e.status });
  }

  async createPod(pod: k8s.V1Pod): Promise<void> {
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    this.calls.push(`create ${key}`);
    if (this.createError) throw this.createError;
    const now = new Date();
    const containers = new Map<string, Container>();
    for (const c of pod.spec!.containers) {
      const path = join(this.logDir, `${pod.metadata!.uid}-${c.name}.log`);
      const sink = createWriteStream(path, { flags: 'a' });
      const writer = new LogWriter(sink, { clock: () => this.logTime ?? systemClock() });
      let close!: () => void;
      const closed = new Promise<void>((r) => (close = r));
      containers.set(c.name, { path, writer, sink, closed, close });
      await this.flushed(writer);
    }
    const pending: k8s.V1PodStatus = {
      phase: 'Pending',
      hostIP: this.nodeIP,
      hostIPs: [{ ip: this.nodeIP }],
      startTime: now,
      containerStatuses: pod.spec!.containers.map((c) => ({
        name: c.name,
        image: c.image!,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      })),
    };
    const entry: Entry = { pod: structuredClone(pod), containers, status: pending };
    this.pods.set(key, entry);
    setTimeout(() => {
      if (this.pods.get(key) !== entry || entry.status.phase !== 'Pending') return;
      const started = new Date();
      entry.status = {
        ...pending,
        phase: 'Running',
        podIP: '10.1.0.1',
        podIPs: [{ ip: '10.1.0.1' }],
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
          { type: 'Initialized', status: 'True', lastTransitionTime: now },
          { type: 'ContainersReady', status: 'True', lastTransitionTime: started },
          { type: 'Ready', status: 'True', lastTransitionTime: started },
        ],
        containerStatuses: pod.spec!.containers.map((c) => ({
          name: c.name,
          image: c.image!,
          imageID: `memory://${c.image}`,
          containerID: `memory://${pod.metadata!.uid}/${c.name}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: started } },
        })),
      };
      this.changed(entry);
    }, this.startDelayMs);
  }

  async updatePod(pod: k8s.V1Pod): Promise<void> {
    const e = this.entry(pod.metadata!.namespace!, pod.metadata!.name!);
    this.calls.push(`update ${pod.metadata!.namespace}/${pod.metadata!.name}`);
    e.pod = structuredClone(pod);
  }

  async deletePod(pod: k8s.V1Pod): Promise<void> {
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    const e = this.entry(pod.metadata!.namespace!, pod.metadata!.name!);
    this.calls.push(`delete ${key}`);
    if (this.deleteError) throw this.deleteError;
    if (e.stopping) return;
    e.stopping = true;
    const stop = () => {
      const now = new Date();
      e.status = {
        ...e.status,
        phase: 'Succeeded',
        containerStatuses: e.status.containerStatuses?.map((c) => ({
          ...c,
          ready: false,
          started: false,
          state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: now } },
        })),
      };
      this.changed(e);
      for (const c of e.containers.values()) {
        void c.writer.close().then(c.close, c.close);
      }
      // Forgotten a moment later: first its stopped state can be seen.
      setTimeout(() => {
        if (this.pods.get(key) === e) this.pods.delete(key);
      }, 500);
    };
    if (this.stopDelayMs > 0) setTimeout(stop, this.stopDelayMs);
    else stop();
  }

  async getPod(namespace: string, name: string): Promise<k8s.V1Pod | undefined> {
    return this.pods.get(`${namespace}/${name}`)?.pod;
  }

  async getPodStatus(namespace: string, name: string): Promise<k8s.V1PodStatus | undefined> {
    return this.pods.get(`${namespace}/${name}`)?.status;
  }

  async getPods(): Promise<k8s.V1Pod[]> {
    return [...this.pods.values()].map((e) => e.pod);
  }

  async ping(): Promise<void> {
    if (this.pingError) throw this.pingError;
  }

  async nodeStatus(): Promise<NodeConditionsAndAddresses> {
    return {
      capacity: { cpu: '8', memory: '16Gi', pods: '1000' },
      conditions: [{ type: 'Ready', ...this.ready }],
      addresses: [{ type: 'InternalIP', address: this.nodeIP }],
      nodeInfo: { operatingSystem: 'linux', architecture: 'amd64' },
    };
  }

  notifyNodeStatus(callback: () => void): void {
    this.nodeChanged = callback;
  }

  /** Changes the node's Ready condition and tells the node controller at once. */
  setReady(status: 'True' | 'False', reason: string, message: string): void {
    this.ready = { status, reason, message };
    this.nodeChanged?.();
  }

  async getContainerLogs(
    namespace: string,
    pod: string,
    container: string,
    o: ContainerLogOptions,
  ): Promise<Readable> {
    const c = this.entry(namespace, pod).containers.get(container);
    if (!c)
      throw new NodeError('NotFound', `container ${container} is not in pod ${namespace}/${pod}`);
    const chunks = queryLog(c.path, {
      tail: o.tail,
      since: o.since,
      timestamps: o.timestamps,
      limitBytes: o.limitBytes,
      stream: o.stream,
      follow: o.follow,
      writerClosed: c.closed,
      signal: o.signal,
    });
    return Readable.from(
      (async function* () {
        for await (const chunk of chunks) yield chunk.data;
      })(),
    );
  }

  /** Writes a line to a container's log (stdout unless stream is 1) and waits until it is on disk. */
  async log(namespace: string, pod: string, container: string, text: string, stream: 0 | 1 = 0) {
    const c = this.entry(namespace, pod).containers.get(container)!;
    c.writer.write(stream, Buffer.from(text));
    await this.flushed(c.writer);
  }

  private async flushed(writer: LogWriter): Promise<void> {
    const written = new Promise((r) => writer.once('written', r));
    writer.flush();
    await Promise.race([written, new Promise((r) => setTimeout(r, 50))]);
  }

  private entry(namespace: string, name: string): Entry {
    const e = this.pods.get(`${namespace}/${name}`);
    if (!e) throw new NodeError('NotFound', `pod ${namespace}/${name} is not in the provider`);
    return e;
  }
}
