// Test doubles of the two proxies for unit tests of the operations and the provider: an
// in-memory portlayer with VIC's handle semantics (each join a new handle, commit all or
// nothing, a stale handle refused) whose tasks the test ends at will, and an image store with
// a set of images and pulls that can be made to fail.
import { Readable } from 'node:stream';
import { NodeError } from '../../src/node/errors.js';
import type {
  ImageConfig,
  ImageStore,
  RegistryCredentials,
} from '../../src/providers/vic/proxy/image-store.js';
import type {
  ContainerCreateConfig,
  ContainerInfo,
  ExecTaskResult,
  IsolationProxy,
  LogsOptions,
  TaskInfo,
  TaskJoinConfig,
  VCHInfo,
} from '../../src/providers/vic/proxy/isolation-proxy.js';

interface FakeTask {
  id: string;
  name: string;
  imageId?: string;
  config: Omit<TaskJoinConfig, 'handle'>;
  restartCount: number;
  status: 'created' | 'running' | 'exited';
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  /** The task ignores SIGTERM (only SIGKILL ends it). */
  ignoresTerm?: boolean;
  /** Why its last start failed. */
  errorMsg?: string;
}

interface FakeContainer {
  id: string;
  config: ContainerCreateConfig;
  state: 'Created' | 'Running' | 'Stopped';
  tasks: FakeTask[];
  logging: boolean;
  interaction: boolean;
  version: number;
  createTime: number;
}

interface ChangeSet {
  id: string;
  base: number; // container version the handle was made from; -1 for a new container
  container: FakeContainer;
  state?: 'RUNNING' | 'STOPPED';
  bind: string[];
  images: Map<string, string>;
}

let counter = 0;
const hexId = () => (++counter).toString(16).padStart(64, '0');

export class FakeIsolationProxy implements IsolationProxy {
  readonly containers = new Map<string, FakeContainer>();
  private readonly handles = new Map<string, ChangeSet>();
  private readonly waiters = new Set<() => void>();
  /** Every call, in order: "create", "commit", "signal id 15", … */
  readonly calls: string[] = [];
  /** When set, every call fails with this. */
  down: Error | undefined;
  /** Exit code a task started from a task config gets at once, by task name. */
  exitOnStart = new Map<string, number>();
  /** Task names whose start fails (exec failed): the commit answers InvalidInput. */
  failStart = new Set<string>();
  /** Task names that ignore SIGTERM. */
  ignoreTerm = new Set<string>();
  info_: VCHInfo = { cpuMhz: 4000, memory: 8192, numCPUs: 4, maxPods: 50, hostOS: 'Debian' };
  logText = new Map<string, string>();
  /** The address each committed pod gets on the bridge scope ("10.88.0.N/16"); none if unset. */
  bridgeAddress: ((id: string) => string) | undefined;
  /** What an exec in a task answers, by task name; without one, exit 0 and no output. */
  execs = new Map<string, (argv: string[]) => ExecTaskResult | Promise<ExecTaskResult>>();

  /** A call (as written in `calls`) that fails with InvalidInput. */
  failOn: string | undefined;

  private check(call: string) {
    this.calls.push(call);
    if (this.down) throw this.down;
    if (call === this.failOn) throw new NodeError('InvalidInput', `${call} refused`);
  }

  private newHandle(cs: Omit<ChangeSet, 'id'>): string {
    const id = `h${++counter}`;
    this.handles.set(id, { ...cs, id });
    return id;
  }

  /** A copy of the change set with a fresh id: handles never change once made. */
  private derive(handle: string, change: (cs: ChangeSet) => void): string {
    const cs = this.handles.get(handle);
    if (!cs) throw new NodeError('NotFound', `no such handle ${handle}`);
    const next: ChangeSet = {
      ...cs,
      container: { ...cs.container, tasks: cs.container.tasks.map((t) => ({ ...t })) },
      bind: [...cs.bind],
      images: new Map(cs.images),
    };
    change(next);
    return this.newHandle(next);
  }

  async ping() {
    this.check('ping');
  }

  async vchInfo() {
    this.check('vchInfo');
    return this.info_;
  }

  async createHandle(config: ContainerCreateConfig) {
    this.check('create');
    const id = hexId();
    const container: FakeContainer = {
      id,
      config,
      state: 'Created',
      tasks: [],
      logging: false,
      interaction: false,
      version: 0,
      createTime: Math.floor(Date.now() / 1000),
    };
    return { id, handle: this.newHandle({ base: -1, container, bind: [], images: new Map() }) };
  }

  async handle(id: string) {
    this.check(`handle ${id}`);
    const c = this.containers.get(id);
    if (!c) throw new NodeError('NotFound', `no such container ${id}`);
    return this.newHandle({
      base: c.version,
      container: { ...c, tasks: c.tasks.map((t) => ({ ...t })) },
      bind: [],
      images: new Map(),
    });
  }

  async addImageToHandle(handle: string, image: { deltaID: string; imageID?: string }) {
    this.check(`image ${image.deltaID}`);
    return this.derive(handle, (cs) => cs.images.set(image.deltaID, image.imageID ?? ''));
  }

  async createHandleTask(handle: string, task: Omit<TaskJoinConfig, 'handle'>) {
    this.check(`task ${task.name}`);
    const id = task.id ?? hexId();
    const h = this.derive(handle, (cs) => {
      if (!cs.images.has(task.deltaID ?? task.name ?? ''))
        throw new NodeError('InvalidInput', `task ${task.name}: no image joined for it`);
      cs.container.tasks.push({
        id,
        name: task.name ?? id,
        imageId: cs.images.get(task.deltaID ?? task.name ?? ''),
        config: task,
        restartCount: 0,
        status: 'created',
      });
    });
    return { handle: h, id };
  }

  async bindTask(handle: string, id: string) {
    this.check(`bind ${id}`);
    return this.derive(handle, (cs) => cs.bind.push(id));
  }

  async removeTask(handle: string, id: string) {
    this.check(`remove task ${id}`);
    return this.derive(handle, (cs) => {
      const t = cs.container.tasks.find((x) => x.id === id);
      if (!t) throw new NodeError('NotFound', `no task ${id}`);
      if (t.status === 'running') throw new NodeError('Conflict', `task ${id} is running`);
      cs.container.tasks = cs.container.tasks.filter((x) => x !== t);
    });
  }

  async addLoggingToHandle(handle: string) {
    this.check('logging');
    return this.derive(handle, (cs) => (cs.container.logging = true));
  }

  async addInteractionToHandle(handle: string) {
    this.check('interaction');
    return this.derive(handle, (cs) => (cs.container.interaction = true));
  }

  async setState(handle: string, state: 'RUNNING' | 'STOPPED') {
    this.check(`state ${state}`);
    return this.derive(handle, (cs) => (cs.state = state));
  }

  async commitHandle(handle: string, waitTimeSec?: number) {
    this.check(`commit${waitTimeSec !== undefined ? ` ${waitTimeSec}` : ''}`);
    const cs = this.handles.get(handle);
    if (!cs) throw new NodeError('NotFound', `no such handle ${handle}`);
    const current = this.containers.get(cs.container.id);
    if (cs.base === -1 ? current !== undefined : current?.version !== cs.base)
      throw new NodeError('Conflict', `handle ${handle} is stale`);
    const c: FakeContainer = { ...cs.container, version: (current?.version ?? -1) + 1 };
    this.containers.set(c.id, c);
    this.handles.delete(handle);
    if (cs.state === 'RUNNING') {
      c.state = 'Running';
      for (const t of c.tasks) if (t.status !== 'running') this.startTask(t);
    } else if (cs.state === 'STOPPED') {
      for (const t of c.tasks) if (t.status === 'running') this.end(t, 137);
      c.state = 'Stopped';
    }
    for (const id of cs.bind) {
      const t = c.tasks.find((x) => x.id === id);
      if (!t) throw new NodeError('NotFound', `no task ${id}`);
      if (t.status === 'exited') t.restartCount++;
      this.startTask(t);
      c.state = 'Running';
    }
    this.wake();
    const failed = c.tasks.find((t) => t.errorMsg && cs.bind.includes(t.id));
    if (failed) throw new NodeError('InvalidInput', failed.errorMsg!);
  }

  private startTask(t: FakeTask) {
    if (this.failStart.has(t.name)) {
      // As the VCH records a start that failed: still created, the error, exit code 128.
      t.status = 'created';
      t.errorMsg = `exec ${t.config.path}: no such file or directory`;
      t.exitCode = 128;
      return;
    }
    t.errorMsg = undefined;
    t.status = 'running';
    t.startedAt = new Date().toISOString();
    t.finishedAt = undefined;
    t.exitCode = undefined;
    const code = this.exitOnStart.get(t.name);
    if (code !== undefined) this.end(t, code);
  }

  private end(t: FakeTask, code: number) {
    t.status = 'exited';
    t.exitCode = code;
    t.finishedAt = new Date().toISOString();
  }

  private wake() {
    for (const w of [...this.waiters]) w();
  }

  /** The test ends a running task. */
  exit(taskId: string, code: number): void {
    const t = this.task(taskId);
    if (t.status === 'running') this.end(t, code);
    this.wake();
  }

  task(taskId: string): FakeTask {
    for (const c of this.containers.values()) {
      const t = c.tasks.find((x) => x.id === taskId);
      if (t) return t;
    }
    throw new NodeError('NotFound', `no such task ${taskId}`);
  }

  async remove(id: string, force = false) {
    this.check(`remove ${id}`);
    const c = this.containers.get(id);
    if (!c) throw new NodeError('NotFound', `no such container ${id}`);
    if (!force && c.tasks.some((t) => t.status === 'running'))
      throw new NodeError('Conflict', 'container is running');
    this.containers.delete(id);
    this.wake();
  }

  private infoOf(c: FakeContainer): ContainerInfo {
    const tasks: TaskInfo[] = c.tasks.map((t) => ({
      id: t.id,
      name: t.name,
      imageId: t.imageId,
      restartCount: t.restartCount,
      stopSignal: t.config.stopSignal,
      processConfig: {
        status: t.status,
        exitCode: t.exitCode,
        errorMsg: t.errorMsg,
        startedAt: t.startedAt,
        finishedAt: t.finishedAt,
        execPath: t.config.path,
        execArgs: t.config.args,
        env: t.config.env,
        workingDir: t.config.workingDir,
      },
    }));
    const running = c.tasks.some((t) => t.status === 'running');
    return {
      containerConfig: {
        containerId: c.id,
        annotations: c.config.annotations,
        state: c.state === 'Running' && !running ? 'Stopped' : c.state,
        createTime: c.createTime,
        names: [c.config.name ?? c.id],
      },
      tasks,
      logging: c.logging,
      interaction: c.interaction,
      ...(this.bridgeAddress && {
        endpoints: [
          {
            id: `${c.id.slice(0, 12)}-bridge`,
            name: c.config.name ?? c.id,
            scope: 'bridge',
            address: this.bridgeAddress(c.id),
            gateway: '10.88.0.1',
            container: c.id,
            ports: [],
            aliases: [],
            nameservers: [],
          },
        ],
      }),
    };
  }

  async info(id: string) {
    this.check(`info`);
    const c = this.containers.get(id);
    if (!c) throw new NodeError('NotFound', `no such container ${id}`);
    return this.infoOf(c);
  }

  async list() {
    this.check('list');
    return [...this.containers.values()].map((c) => this.infoOf(c));
  }

  async signal(id: string, signal: number) {
    this.check(`signal ${signal}`);
    const c = this.containers.get(id);
    const tasks = c ? c.tasks : [this.task(id)];
    for (const t of tasks) {
      if (t.status !== 'running') continue;
      if (signal === 9) this.end(t, 137);
      else if (signal === 15 && !this.ignoreTerm.has(t.name)) this.end(t, 143);
    }
    this.wake();
  }

  async wait(id: string, timeoutSec: number, signal?: AbortSignal) {
    if (this.down) throw this.down;
    const running = () => {
      const c = this.containers.get(id);
      if (c) return c.tasks.some((t) => t.status === 'running');
      return this.task(id).status === 'running';
    };
    const containerOf = () =>
      this.containers.get(id) ??
      [...this.containers.values()].find((c) => c.tasks.some((t) => t.id === id))!;
    if (running()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          if (running() && !signal?.aborted && !timedOut) return;
          clearTimeout(timer);
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          done();
        }, timeoutSec * 1000);
        this.waiters.add(done);
        signal?.addEventListener('abort', done);
      });
    }
    if (signal?.aborted) throw new Error('aborted');
    return this.infoOf(containerOf());
  }

  async execInTask(podId: string, taskName: string, argv: string[], _timeoutSec?: number) {
    this.check(`exec ${taskName} ${argv.join(' ')}`);
    const c = this.containers.get(podId);
    const t = c?.tasks.find((x) => x.name === taskName);
    if (!t) throw new NodeError('NotFound', `no task ${taskName} in container ${podId}`);
    if (t.status !== 'running') throw new NodeError('Conflict', `task ${taskName} is not running`);
    const run = this.execs.get(taskName);
    if (run) return run(argv);
    return {
      exitCode: 0,
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      timedOut: false,
      stdoutTruncated: false,
      stderrTruncated: false,
    };
  }

  async logs(id: string, o: LogsOptions) {
    this.check(
      `logs ${id} ${JSON.stringify({ ...o, since: o.since?.toString(), signal: undefined })}`,
    );
    const t = this.task(id);
    // By task id, or by task name; a stream selection of stderr gets nothing.
    const text = this.logText.get(id) ?? this.logText.get(t.name) ?? '';
    return Readable.from([o.stream === 'stderr' ? '' : text]);
  }
}

export class FakeImageStore implements ImageStore {
  readonly images = new Map<string, ImageConfig>();
  /** Images that exist in the "registry": a pull of anything else fails. */
  readonly registry = new Map<string, Omit<ImageConfig, 'name'>>();
  /** Images that need these credentials. */
  readonly needsAuth = new Map<string, string>();
  readonly pulls: { image: string; credentials?: RegistryCredentials }[] = [];

  addToRegistry(image: string, config: Partial<ImageConfig> = {}) {
    this.registry.set(image, {
      id: `sha256:${image.length.toString(16).padStart(64, '0')}`,
      entrypoint: [],
      cmd: ['sh'],
      env: ['PATH=/bin'],
      workingDir: '',
      user: '',
      ...config,
    });
  }

  async pull(image: string, credentials?: RegistryCredentials) {
    this.pulls.push({ image, credentials });
    const config = this.registry.get(image);
    if (!config)
      throw new NodeError('NotFound', `manifest for ${image} not found: manifest unknown`);
    const need = this.needsAuth.get(image);
    if (need && `${credentials?.username}:${credentials?.password}` !== need)
      throw new NodeError('NotFound', 'unauthorized: authentication required');
    this.images.set(image, { ...config, name: image });
  }

  async get(image: string) {
    return this.images.get(image);
  }
}
