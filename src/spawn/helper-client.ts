// The VCH's side of the spawn helper (helper-main.ts): started on first use, one per process,
// and started again on the next request if it dies (requests under way then fail as
// Unavailable). Its pipes hold this process open only while requests are under way.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { unavailable } from './errors.js';
import type { CommandOutcome, CommandRequest, HelperReply } from './protocol.js';

interface Pending {
  resolve(o: CommandOutcome): void;
  reject(e: Error): void;
}

export class SpawnHelper {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `script`: the compiled helper-main.js. */
  constructor(private readonly script: string) {}

  /** The helper's pid while it runs (the benchmark counts its memory with the VCH's). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  run(req: CommandRequest): Promise<CommandOutcome> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.hold(child, true);
      child.stdin.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  /** Ends the helper (its stdin closes); commands under way finish on their own. */
  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    // A small heap and no V8 worker threads: it only ever holds the output of the commands
    // under way (about 19 MiB of its own then, against 26 with Node's defaults).
    const flags = ['--max-old-space-size=32', '--max-semi-space-size=1', '--v8-pool-size=0'];
    const child = spawn(process.execPath, [...flags, this.script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }) as unknown as ChildProcessWithoutNullStreams;
    this.child = child;
    child.stdin.on('error', () => {}); // its death is handled on exit
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as HelperReply;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0 && this.child === child) this.hold(child, false);
      p.resolve(reply);
    });
    const gone = (why: string) => {
      if (this.child === child) this.child = undefined;
      const err = unavailable(`the spawn helper ${why}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    child.on('error', (e) => gone(`could not run: ${e.message}`));
    child.on('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    this.hold(child, false);
    return child;
  }

  /** Referenced while requests are under way, so a process waiting on one is kept alive. */
  private hold(child: ChildProcessWithoutNullStreams, on: boolean): void {
    const handles = [child, child.stdin, child.stdout] as unknown as {
      ref(): void;
      unref(): void;
    }[];
    for (const h of handles) (on ? h.ref : h.unref).call(h);
  }
}
