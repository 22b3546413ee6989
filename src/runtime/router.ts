// A Runtime over both backends: each pod (sandbox) runs on the backend its SandboxSpec names
// (`runtime`), else on the default; its containers follow it. The router keeps only where each
// sandbox and container is, in memory, and learns it again on recover() from both backends' own
// records — the VCH's database keeps each pod's choice for the user (pods.runtime).
import type { Duplex, Readable } from 'node:stream';
import type {
  AttachSession,
  ContainerSample,
  ContainerSpec,
  ContainerState,
  ExecOptions,
  ExecResult,
  ExecSpec,
  ExecStream,
  ExecStreamOptions,
  PathStat,
  Runtime,
  SandboxSpec,
  SandboxUsage,
  StopOptions,
} from './runtime.js';
import { invalidInput, notFound, notImplemented } from './errors.js';

export type BackendName = Runtime['name'];

export interface RouterOptions {
  /** The backends, by name; the router takes what it is given (a runc-only host has one). */
  backends: Partial<Record<BackendName, Runtime>>;
  /** Where a sandbox goes when its spec does not say. */
  default: BackendName;
}

export class RouterRuntime implements Runtime {
  readonly name: BackendName;
  readonly #backends: Partial<Record<BackendName, Runtime>>;
  readonly #sandboxes = new Map<string, Runtime>();
  readonly #containers = new Map<string, Runtime>();

  constructor(o: RouterOptions) {
    if (!o.backends[o.default]) throw invalidInput(`no ${o.default} backend to default to`);
    this.name = o.default;
    this.#backends = o.backends;
  }

  /** The backend a sandbox runs on; undefined if the router does not know it. */
  backendOf(sandboxId: string): BackendName | undefined {
    return this.#sandboxes.get(sandboxId)?.name;
  }

  #pick(name: BackendName | undefined): Runtime {
    const want = name ?? this.name;
    const b = this.#backends[want];
    if (!b) throw invalidInput(`the ${want} runtime is not available on this VCH`);
    return b;
  }

  #ofSandbox(id: string): Runtime {
    const b = this.#sandboxes.get(id);
    if (!b) throw notFound(`no such sandbox ${id}`);
    return b;
  }

  #ofContainer(id: string): Runtime {
    const b = this.#containers.get(id);
    if (!b) throw notFound(`no such container ${id}`);
    return b;
  }

  async createSandbox(spec: SandboxSpec): Promise<void> {
    const known = this.#sandboxes.get(spec.id);
    if (known && spec.runtime !== undefined && known.name !== spec.runtime)
      throw invalidInput(`sandbox ${spec.id} runs on ${known.name}, not ${spec.runtime}`);
    const b = known ?? this.#pick(spec.runtime);
    await b.createSandbox(spec);
    this.#sandboxes.set(spec.id, b);
  }

  async removeSandbox(id: string): Promise<void> {
    await this.#ofSandbox(id).removeSandbox(id);
    this.#sandboxes.delete(id);
  }

  async stopSandbox(id: string): Promise<void> {
    const b = this.#ofSandbox(id);
    if (b.stopSandbox) await b.stopSandbox(id);
  }

  async createContainer(sandboxId: string, spec: ContainerSpec): Promise<void> {
    const b = this.#ofSandbox(sandboxId);
    await b.createContainer(sandboxId, spec);
    this.#containers.set(spec.id, b);
  }

  start(id: string): Promise<void> {
    return this.#call(id, (b) => b.start(id));
  }

  stop(id: string, options?: StopOptions): Promise<ContainerState> {
    return this.#call(id, (b) => b.stop(id, options));
  }

  kill(id: string, signal: string): Promise<void> {
    return this.#call(id, (b) => b.kill(id, signal));
  }

  wait(id: string, abort?: AbortSignal): Promise<ContainerState> {
    return this.#call(id, (b) => b.wait(id, abort));
  }

  async remove(id: string): Promise<void> {
    await this.#call(id, (b) => b.remove(id));
    this.#containers.delete(id);
  }

  state(id: string): Promise<ContainerState> {
    return this.#call(id, (b) => b.state(id));
  }

  exec(id: string, spec: ExecSpec, options?: ExecOptions): Promise<ExecResult> {
    return this.#call(id, (b) => b.exec(id, spec, options));
  }

  execStream(id: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream> {
    return this.#call(id, (b) => b.execStream(id, spec, options));
  }

  attach(id: string, options: { stdin: boolean }): Promise<AttachSession> {
    return this.#call(id, async (b) => {
      if (!b.attach) throw notImplemented(`the ${b.name} backend cannot attach`);
      return b.attach(id, options);
    });
  }

  stats(id: string): Promise<ContainerSample> {
    return this.#call(id, async (b) => (b.stats ? b.stats(id) : {}));
  }

  processes(id: string): Promise<number[]> {
    return this.#call(id, async (b) => {
      if (!b.processes)
        throw notImplemented(`the ${b.name} backend cannot list a container's processes`);
      return b.processes(id);
    });
  }

  statPath(id: string, path: string): Promise<PathStat> {
    return this.#call(id, (b) => {
      if (!b.statPath)
        throw notImplemented(`docker cp is not supported in ${b.name} containers yet`);
      return b.statPath(id, path);
    });
  }

  getArchive(id: string, path: string): Promise<Readable> {
    return this.#call(id, (b) => {
      if (!b.getArchive)
        throw notImplemented(`docker cp is not supported in ${b.name} containers yet`);
      return b.getArchive(id, path);
    });
  }

  putArchive(id: string, dir: string, tar: Readable, keepOwner: boolean): Promise<void> {
    return this.#call(id, (b) => {
      if (!b.putArchive)
        throw notImplemented(`docker cp is not supported in ${b.name} containers yet`);
      return b.putArchive(id, dir, tar, keepOwner);
    });
  }

  async networkSettled(id: string): Promise<void> {
    await this.#sandboxes.get(id)?.networkSettled?.(id);
  }

  async portForward(id: string, port: number): Promise<Duplex> {
    const b = this.#ofSandbox(id);
    if (!b.portForward) throw notImplemented(`the ${b.name} backend cannot forward ports`);
    return b.portForward(id, port);
  }

  async sandboxStats(id: string): Promise<SandboxUsage> {
    const b = this.#ofSandbox(id);
    return b.sandboxStats ? b.sandboxStats(id) : { interfaces: [] };
  }

  /** Both backends' recoveries, merged; a backend that cannot recover fails the whole. */
  async recover(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    const all = Object.values(this.#backends);
    const results = await Promise.all(all.map((b) => b.recover()));
    const out = { sandboxes: [] as string[], containers: [] as ContainerState[] };
    results.forEach((r, i) => {
      const b = all[i];
      for (const s of r.sandboxes) this.#sandboxes.set(s, b);
      for (const c of r.containers) this.#containers.set(c.id, b);
      out.sandboxes.push(...r.sandboxes);
      out.containers.push(...r.containers);
    });
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.#backends).map((b) => b.close()));
  }

  // A sync throw (unknown id) becomes a rejection, as callers of a Promise API expect.
  async #call<T>(id: string, fn: (b: Runtime) => Promise<T>): Promise<T> {
    return fn(this.#ofContainer(id));
  }
}
