// Test helpers of the VCH core (not part of the build): a Runtime double whose containers the
// test runs by hand, and a tiny OCI image layout to load images from without a registry.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { tarArchive, type TarSpec } from './tar.js';
import { type StreamId, LogWriter } from '../../src/iolog/index.js';
import type {
  ExecStream,
  ExecStreamOptions,
  ContainerSample,
  ContainerUsage,
  InterfaceUsage,
  SandboxUsage,
} from '../../src/runtime/stats/types.js';
import type {
  ContainerSpec,
  ContainerState,
  ExecOptions,
  ExecResult,
  ExecSpec,
  Runtime,
  SandboxSpec,
  StopOptions,
} from '../../src/runtime/runtime.js';

interface FakeContainer {
  spec: ContainerSpec;
  sandboxId: string;
  state: ContainerState;
  exited: Array<(s: ContainerState) => void>;
}

/**
 * A Runtime double: containers "run" until the test calls exit() (or stop/kill ends them).
 * Its state survives close(), so a second Vch opened on it sees what a restarted VCH would.
 */
export class FakeRuntime implements Runtime {
  constructor(readonly name: 'runc' | 'vm' = 'runc') {}
  readonly sandboxes = new Map<string, SandboxSpec>();
  readonly containers = new Map<string, FakeContainer>();
  readonly calls: string[] = [];
  nextPid = 1000;
  /** Set to make the next start fail with this error. */
  failStart: Error | undefined;

  async createSandbox(spec: SandboxSpec): Promise<void> {
    this.calls.push(`createSandbox ${spec.id.slice(0, 8)}`);
    this.sandboxes.set(spec.id, spec);
  }

  async removeSandbox(id: string): Promise<void> {
    this.calls.push(`removeSandbox ${id.slice(0, 8)}`);
    for (const c of this.containers.values())
      if (c.sandboxId === id)
        throw Object.assign(new Error('sandbox has containers'), { kind: 'Conflict' });
    this.sandboxes.delete(id);
  }

  async createContainer(sandboxId: string, spec: ContainerSpec): Promise<void> {
    this.calls.push(`createContainer ${spec.id.slice(0, 8)}`);
    if (!this.sandboxes.has(sandboxId))
      throw Object.assign(new Error(`no such sandbox ${sandboxId}`), { kind: 'NotFound' });
    this.containers.set(spec.id, {
      spec,
      sandboxId,
      state: { id: spec.id, status: 'created' },
      exited: [],
    });
  }

  #get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`no such container ${id}`), { kind: 'NotFound' });
    return c;
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start ${id.slice(0, 8)}`);
    const c = this.#get(id);
    if (this.failStart) {
      const e = this.failStart;
      this.failStart = undefined;
      throw e;
    }
    if (c.state.status === 'running')
      throw Object.assign(new Error('running'), { kind: 'Conflict' });
    c.state = { id, status: 'running', pid: this.nextPid++, startedAt: new Date().toISOString() };
  }

  /** The container's process ends with `exitCode` (and `reason`). */
  exit(id: string, exitCode: number, reason?: string): void {
    const c = this.#get(id);
    if (c.state.status !== 'running') return;
    c.state = {
      id,
      status: 'exited',
      ...(c.state.startedAt && { startedAt: c.state.startedAt }),
      finishedAt: new Date().toISOString(),
      exitCode,
      ...(reason && { reason }),
    };
    const waiters = c.exited.splice(0);
    for (const w of waiters) w(c.state);
  }

  /** Appends output to the container's log as its tether would (iolog entries, real time). */
  async output(id: string, stream: StreamId, text: string): Promise<void> {
    const c = this.#get(id);
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (b: Buffer) => parts.push(Buffer.from(b)));
    const w = new LogWriter(sink);
    w.write(stream, Buffer.from(text));
    await w.close();
    await appendFile(c.spec.logPath, Buffer.concat(parts));
  }

  async stop(id: string, options: StopOptions = {}): Promise<ContainerState> {
    this.calls.push(`stop ${id.slice(0, 8)} ${options.signal ?? ''} ${options.graceMs ?? ''}`);
    const c = this.#get(id);
    this.exit(id, options.signal === 'SIGKILL' ? 137 : 143);
    return c.state;
  }

  async kill(id: string, signal: string): Promise<void> {
    this.calls.push(`kill ${id.slice(0, 8)} ${signal}`);
    const c = this.#get(id);
    if (c.state.status !== 'running')
      throw Object.assign(new Error('not running'), { kind: 'Conflict' });
    if (signal === 'SIGKILL' || signal === 'KILL' || signal === '9') this.exit(id, 137);
  }

  wait(id: string, abort?: AbortSignal): Promise<ContainerState> {
    const c = this.#get(id);
    if (c.state.status !== 'running') return Promise.resolve(c.state);
    return new Promise((resolve, reject) => {
      c.exited.push(resolve);
      abort?.addEventListener('abort', () => reject(abort.reason), { once: true });
    });
  }

  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id.slice(0, 8)}`);
    const c = this.#get(id);
    if (c.state.status === 'running')
      throw Object.assign(new Error('running'), { kind: 'Conflict' });
    this.containers.delete(id);
  }

  /** Answers execs: by default, exit 0 with the args echoed on stdout. */
  execHandler: (id: string, spec: ExecSpec) => ExecResult = (_id, spec) => ({
    exitCode: 0,
    stdout: Buffer.from(spec.args.join(' ') + '\n'),
    stderr: Buffer.alloc(0),
    truncated: { stdout: false, stderr: false },
    timedOut: false,
  });

  async exec(id: string, spec: ExecSpec, _options?: ExecOptions): Promise<ExecResult> {
    this.calls.push(`exec ${id.slice(0, 8)} ${spec.args.join(' ')}`);
    const c = this.#get(id);
    if (c.state.status !== 'running')
      throw Object.assign(new Error('not running'), { kind: 'Conflict' });
    return this.execHandler(id, spec);
  }

  /** A streaming exec: the handler's output, then (with stdin) the input echoed back. */
  async execStream(id: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream> {
    const r = await this.exec(id, spec);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.write(r.stdout);
    stderr.end(r.stderr);
    const stdin = options.stdin ? new PassThrough() : undefined;
    if (stdin) stdin.pipe(stdout);
    else stdout.end();
    const exit = stdin
      ? new Promise<number>((resolve) => stdout.on('finish', () => resolve(r.exitCode)))
      : Promise.resolve(r.exitCode);
    return {
      ...(stdin && { stdin }),
      stdout,
      ...(!options.tty && { stderr }),
      resize: (size) => this.calls.push(`resize ${size.width}x${size.height}`),
      kill: () => stdout.destroy(),
      exit,
    };
  }

  async state(id: string): Promise<ContainerState> {
    return this.#get(id).state;
  }

  /** What stats() reports of a running container (and sandboxStats of every sandbox). */
  usage: ContainerUsage = {
    cpu: { usageNanoSeconds: 2_000_000_000 },
    memory: {
      usageBytes: 3 << 20,
      workingSetBytes: 2 << 20,
      rssBytes: 1 << 20,
      pageFaults: 10,
      majorPageFaults: 1,
    },
    processes: 2,
  };
  interfaces: InterfaceUsage[] = [
    { name: 'eth0', rxBytes: 100, rxErrors: 0, txBytes: 200, txErrors: 0 },
  ];

  async stats(id: string): Promise<ContainerSample> {
    const c = this.#get(id);
    return c.state.status === 'running' ? { usage: this.usage } : {};
  }

  async sandboxStats(_id: string): Promise<SandboxUsage> {
    return { interfaces: this.interfaces };
  }

  async recover(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    this.calls.push('recover');
    return {
      sandboxes: [...this.sandboxes.keys()],
      containers: [...this.containers.values()].map((c) => c.state),
    };
  }

  async close(): Promise<void> {
    this.calls.push('close');
    for (const c of this.containers.values()) c.exited.splice(0);
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Writes an OCI image layout at `dir` holding one image named `name` (ref.name annotation):
 * one layer (by default /hello; `entries` for another), and an image config whose `config` is
 * `config`.
 */
export async function writeTestLayout(
  dir: string,
  name: string,
  config: Record<string, unknown> = { Cmd: ['/bin/sh'] },
  entries?: TarSpec[],
): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer) => {
    const hex = sha256(b);
    await writeFile(join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const layer = tarArchive(entries ?? [{ name: 'hello', body: `hello from ${name}\n` }]);
  const layerDesc = await put(layer);
  const cfg = Buffer.from(
    JSON.stringify({
      created: '2026-01-02T03:04:05Z',
      architecture: 'amd64',
      os: 'linux',
      config,
      rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
    }),
  );
  const cfgDesc = await put(cfg);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfgDesc },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerDesc }],
    }),
  );
  const mDesc = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...mDesc,
          annotations: { 'org.opencontainers.image.ref.name': name },
        },
      ],
    }),
  );
  return dir;
}
