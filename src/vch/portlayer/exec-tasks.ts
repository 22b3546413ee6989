// Exec tasks: VIC's exec sessions. A task join with `execIn` on a running pod's handle, bound
// and committed, runs a process in that task (container) of the pod (the VCH's
// execInContainer); `GET /tasks` (Inspect) answers its state, exit code and captured output,
// `GET /tasks/wait` waits for its end. They live in memory: an exec does not outlive the VCH
// process, and a finished one is kept a while for its answer, then forgotten.
import type { TaskInspectResponse } from '../../api/portlayer/index.js';
import type { ExecResult, ExecStream } from '../../runtime/runtime.js';
import { conflict, notFound, unavailable } from '../errors.js';
import type { PodInfo } from '../types.js';
import type { Vch } from '../vch.js';
import type { Directory } from './directory.js';
import type { ExecTaskSpec } from './handles.js';

interface ExecEntry {
  spec: ExecTaskSpec;
  /** The portlayer id of the pod it runs in. */
  podId: string;
  startedAt: string;
  finishedAt?: string;
  /** When it may be forgotten (ms), once it is over. */
  expires?: number;
  result?: ExecResult;
  error?: unknown;
  done: Promise<void>;
  /** An attached exec's streams (/interaction/{id}/…), once it runs. */
  stream?: ExecStream;
  /** Which of its streams a client has taken (each is read once). */
  taken: Set<'stdin' | 'stdout' | 'stderr'>;
}

/** An attached exec no client reads within this long is killed (its pipes would hold it). */
const ATTACH_TIMEOUT_MS = 60_000;
const NO_OUTPUT = Buffer.alloc(0);

export class ExecTasks {
  private readonly entries = new Map<string, ExecEntry>();

  constructor(
    private readonly vch: Vch,
    private readonly dir: Directory,
    /** How long a finished exec's answer is kept (ms). */
    private readonly keepMs = 10 * 60_000,
    private readonly max = 1000,
  ) {}

  has(id: string): boolean {
    this.sweep();
    return this.entries.has(id);
  }

  /**
   * Starts the exec in its task of `pod` (the pod's portlayer id `podId`). NotFound: no such
   * task; Conflict: it does not run. What goes wrong once it is under way is its answer's.
   */
  async start(pod: PodInfo, podId: string, spec: ExecTaskSpec): Promise<void> {
    this.sweep();
    if (this.entries.has(spec.id)) throw conflict(`exec task ${spec.id} exists already`);
    // Full: finished execs make room, oldest first (probes run many); running ones never do.
    for (const [id, e] of this.entries) {
      if (this.entries.size < this.max) break;
      if (e.expires !== undefined) this.entries.delete(id);
    }
    if (this.entries.size >= this.max) throw unavailable('too many exec tasks; try again later');
    const target = (await this.dir.tasksOf(pod)).find((t) => t.nameInPod === spec.execIn);
    if (!target) throw notFound(`no task ${spec.execIn} in container ${podId}`);
    if (target.status !== 'running') throw conflict(`task ${spec.execIn} is not running`);
    const entry: ExecEntry = {
      spec,
      podId,
      startedAt: new Date().toISOString(),
      done: undefined!,
      taken: new Set(),
    };
    const process = {
      args: [spec.path, ...spec.args],
      env: spec.env,
      ...(spec.workingDir && { cwd: spec.workingDir }),
      ...(spec.user && { user: spec.user }),
    };
    // An attached exec runs once the commit answers (its streams are there to be taken), and
    // one that cannot start fails the commit with its reason.
    const run = spec.attach
      ? this.attached(
          entry,
          await this.vch.execStream(target.id, process, {
            stdin: spec.openStdin === true,
            tty: spec.tty === true,
          }),
        )
      : this.vch.execInContainer(
          target.id,
          process,
          spec.timeoutSeconds !== undefined ? { timeoutMs: spec.timeoutSeconds * 1000 } : {},
        );
    entry.done = run.then(
      (r) => void (entry.result = r),
      (e: unknown) => void (entry.error = e),
    );
    void entry.done.then(() => {
      entry.finishedAt = new Date().toISOString();
      entry.expires = Date.now() + this.keepMs;
    });
    this.entries.set(spec.id, entry);
  }

  /** Starts an attached exec; its result is its exit code, its output the client's. */
  private async attached(entry: ExecEntry, stream: ExecStream): Promise<ExecResult> {
    entry.stream = stream;
    const unread = setTimeout(() => {
      if (!entry.taken.has('stdout')) stream.kill();
    }, ATTACH_TIMEOUT_MS);
    try {
      const exitCode = await stream.exit;
      return {
        exitCode,
        stdout: NO_OUTPUT,
        stderr: NO_OUTPUT,
        truncated: { stdout: false, stderr: false },
        timedOut: false,
      };
    } finally {
      clearTimeout(unread);
    }
  }

  /**
   * One stream of a running attached exec, for its one client: NotFound when there is no such
   * exec (or it was not attached), Conflict when it is over or that stream was taken.
   */
  take(id: string, which: 'stdin' | 'stdout' | 'stderr'): ExecStream {
    this.sweep();
    const e = this.entries.get(id);
    if (!e || !e.spec.attach) throw notFound(`no attached exec ${id}`);
    if (!e.stream) throw conflict(`exec ${id} is not running`);
    if (e.taken.has(which)) throw conflict(`the ${which} of exec ${id} is attached already`);
    if (which === 'stdin' && !e.stream.stdin) throw conflict(`exec ${id} has no stdin`);
    e.taken.add(which);
    return e.stream;
  }

  /** A running attached exec (resize); NotFound, or Conflict once it is over. */
  running(id: string): ExecStream {
    this.sweep();
    const e = this.entries.get(id);
    if (!e || !e.spec.attach) throw notFound(`no attached exec ${id}`);
    if (!e.stream || e.result) throw conflict(`exec ${id} is not running`);
    return e.stream;
  }

  /** The exec `id` of pod `podId`; NotFound when there is none (or it was forgotten). */
  private get(id: string, podId: string): ExecEntry {
    this.sweep();
    const e = this.entries.get(id);
    if (!e || e.podId !== podId) throw notFound(`no exec task ${id} in container ${podId}`);
    return e;
  }

  /** Inspect's answer. An exec that could not run answers with its error (its kind's status). */
  inspect(id: string, podId: string): TaskInspectResponse {
    const e = this.get(id, podId);
    if (e.error !== undefined) throw e.error;
    const s = e.spec;
    const r = e.result;
    const state = r ? 'exited' : 'running';
    const answer: TaskInspectResponse = {
      id,
      state,
      user: s.user ?? '',
      processConfig: {
        execPath: s.path,
        execArgs: s.args,
        workingDir: s.workingDir ?? '',
        user: s.user ?? '',
        env: s.env,
        status: state,
        startedAt: e.startedAt,
        ...(e.finishedAt && { finishedAt: e.finishedAt }),
      },
    };
    if (s.attach) {
      answer.openStdin = s.openStdin === true;
      answer.tty = s.tty === true;
    }
    if (!r) return answer;
    answer.exitCode = r.exitCode;
    answer.processConfig!.exitCode = r.exitCode;
    if (s.attach) return answer;
    answer.stdout = r.stdout.toString('base64');
    answer.stderr = r.stderr.toString('base64');
    answer.stdoutTruncated = r.truncated.stdout;
    answer.stderrTruncated = r.truncated.stderr;
    answer.timedOut = r.timedOut;
    return answer;
  }

  /** Resolves once the exec is over (at once if it is); `signal` gives up. */
  async wait(id: string, podId: string, signal?: AbortSignal): Promise<void> {
    const e = this.get(id, podId);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      void e.done.then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    if (e.error !== undefined) throw e.error;
  }

  /**
   * Forgets finished execs whose time is up, oldest first, up to the first one still kept:
   * called on every request, it must not walk the whole map (probes keep it near full). The
   * map is in start order, so a long exec may keep a few shorter ones past their time.
   */
  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.entries) {
      if (e.expires === undefined) continue;
      if (e.expires > now) return;
      this.entries.delete(id);
    }
  }
}
