// Exec in a running container (docker exec, kubectl exec, exec probes; VIC's task join on a
// container's handle). Not serialized with the container's other operations: a probe runs
// while a stop waits out its grace period, and execs run side by side.
import type {
  ExecOptions,
  ExecResult,
  ExecSpec,
  ExecStream,
  ExecStreamOptions,
} from '../../runtime/runtime.js';
import { conflict } from '../errors.js';
import type { VchContext } from './context.js';
import { findContainer } from './lookup.js';

export class ExecService {
  constructor(private readonly ctx: VchContext) {}

  /**
   * Runs a process in a running container: its exit code and output (each stream capped,
   * runtime.ts EXEC_OUTPUT_LIMIT). NotFound: no such container; Conflict: it is not running;
   * InvalidInput: no command, a relative cwd, an unknown user.
   */
  async exec(ref: string, spec: ExecSpec, options: ExecOptions = {}): Promise<ExecResult> {
    const { ctx } = this;
    ctx.ensureOpen();
    const row = findContainer(ctx.db, ref);
    if (row.status !== 'running') throw conflict(`container ${row.id} is not running`);
    const result = await ctx.runtime.exec(row.id, spec, options);
    ctx.log.debug(
      { container: row.id, exitCode: result.exitCode, timedOut: result.timedOut },
      'exec done',
    );
    return result;
  }

  /** Starts a process with streams (Runtime.execStream); the same errors as exec. */
  async stream(ref: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream> {
    const { ctx } = this;
    ctx.ensureOpen();
    const row = findContainer(ctx.db, ref);
    if (row.status !== 'running') throw conflict(`container ${row.id} is not running`);
    const s = await ctx.runtime.execStream(row.id, spec, options);
    void s.exit.then(
      (exitCode) => ctx.log.debug({ container: row.id, exitCode }, 'exec stream done'),
      () => undefined,
    );
    return s;
  }
}
