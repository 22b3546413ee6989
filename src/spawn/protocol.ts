// What a command run asks and what it gets back: the one shape both the in-process runner and
// the spawn helper (helper-main.ts) take, one JSON line each way over the helper's pipes.

/**
 * A file the runner opens and hands to the command as fd 3, 4, … (in order); or, with
 * `listen`, a unix socket it binds at `path` and hands over listening (listening-socket.ts),
 * put in place under that name only once the command has succeeded.
 */
export type FileToOpen =
  | {
      path: string;
      /** open(2) flags (fs.constants), e.g. O_WRONLY | O_APPEND | O_CREAT. */
      flags: number;
      mode?: number;
    }
  | { path: string; listen: true };

export interface CommandRequest {
  file: string;
  args: string[];
  cwd?: string;
  /** The whole environment (as execFile's `env`); absent: the runner's own. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed; absent: stdin is /dev/null. */
  input?: string;
  /** SIGTERM after this long (as execFile's `timeout`); 0 or absent: no limit. */
  timeoutMs?: number;
  /** Bytes kept of stdout and of stderr each; beyond it the command is killed and fails. */
  maxBuffer?: number;
  /** A session of its own (setsid): the command outlives the runner's process group. */
  detached?: boolean;
  /** stdout and stderr appended to this file instead of captured (runc's console log). */
  output?: string;
  /** Opened by the runner, given to the command as fds 3, 4, … and closed after the spawn. */
  files?: FileToOpen[];
}

export interface CommandOutcome {
  /** The exit code; null when a signal ended it. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Killed for running past timeoutMs. */
  timedOut?: boolean;
  /** Killed for writing more than maxBuffer (the stream named). */
  overflow?: 'stdout' | 'stderr';
  /** It could not be started (or a file could not be opened): errno's code and message. */
  failed?: { code?: string; message: string };
}

/** One request on the helper's stdin. */
export interface HelperRequest extends CommandRequest {
  id: number;
}

/** One reply on the helper's stdout. */
export interface HelperReply extends CommandOutcome {
  id: number;
}
