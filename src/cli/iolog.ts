// `vic-kubelet iolog encode|decode`: the operator's tool for a VIC datastore's output.log.
import { createWriteStream, fstatSync, openSync, read } from 'node:fs';
import { Command, Option } from 'commander';
import {
  type LogQuery,
  type StreamSelection,
  defaultWorkers,
  encodeParallel,
  LogWriter,
  PARALLEL_MIN_BYTES,
  parseTime,
  queryLog,
  systemClock,
  WorkerPool,
} from '../iolog/index.js';
import { fail, UsageError } from './errors.js';
import { readStdin, writeAll } from './stdio.js';

export function addIologCommand(program: Command): void {
  const iolog = program.command('iolog').description("VIC's container-VM log format (output.log)");

  iolog
    .command('encode')
    .description('append stdin to FILE (or stdout) as log entries stamped with the system clock')
    .argument('[file]', 'log file to append to; stdout when omitted')
    .addOption(
      new Option('--stream <stream>', 'stream to tag the entries with')
        .choices(['stdout', 'stderr'])
        .default('stdout'),
    )
    .action(async (file: string | undefined, opts: { stream: 'stdout' | 'stderr' }) => {
      await encode(file, opts.stream === 'stderr' ? 1 : 0);
    });

  iolog
    .command('decode')
    .description(
      "write FILE's lines like docker logs: stdout lines to stdout, stderr lines to stderr",
    )
    .argument('<file>', 'log file to read')
    .option(
      '--since <time>',
      'start at the first line at or after this time (RFC 3339, Unix seconds, or a duration like 10m)',
    )
    .option('--until <time>', 'stop after the last line at or before this time')
    .option('--tail <n>', 'only the last N lines ("all" for every line)', 'all')
    .option('-t, --timestamps', 'prefix each line with its time')
    .addOption(
      new Option('--stream <stream>', 'which stream to show')
        .choices(['stdout', 'stderr', 'all'])
        .default('all'),
    )
    .option('--limit-bytes <n>', 'stop after N bytes of output')
    .option('-f, --follow', 'keep following the file as it grows (until interrupted)')
    .action(async (file: string, opts: DecodeOptions) => {
      await decode(file, decodeQuery(opts));
    });
}

interface DecodeOptions {
  since?: string;
  until?: string;
  tail: string;
  timestamps?: boolean;
  stream: StreamSelection;
  limitBytes?: string;
  follow?: boolean;
}

function decodeQuery(o: DecodeOptions): LogQuery {
  const now = systemClock();
  return {
    since: o.since === undefined ? undefined : parseTime(o.since, now, '--since'),
    until: o.until === undefined ? undefined : parseTime(o.until, now, '--until'),
    tail: o.tail === 'all' ? undefined : wholeNumber(o.tail, '--tail', 0, '"all"'),
    timestamps: o.timestamps ?? false,
    stream: o.stream,
    limitBytes:
      o.limitBytes === undefined ? undefined : wholeNumber(o.limitBytes, '--limit-bytes', 1),
    follow: o.follow ?? false,
  };
}

function wholeNumber(text: string, flag: string, min: number, or = ''): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(
      `invalid ${flag} ${JSON.stringify(text)}: want a whole number ≥ ${min}${or ? ` or ${or}` : ''}`,
    );
  return n;
}

async function decode(file: string, q: LogQuery): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    // writeAll waits until each chunk is written, so the query may reuse its memory.
    const workers = defaultWorkers();
    for await (const chunk of queryLog(file, {
      ...q,
      signal: abort.signal,
      recycle: true,
      workers,
    })) {
      await writeAll(chunk.stream === 0 ? process.stdout : process.stderr, chunk.data);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function encode(file: string | undefined, stream: 0 | 1): Promise<void> {
  let sink;
  if (file === undefined) {
    sink = process.stdout;
  } else {
    let fd: number;
    try {
      fd = openSync(file, 'a');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(
        `cannot open ${file} for appending: ${e.code === 'ENOENT' ? 'its directory does not exist' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message}`,
      );
    }
    // Room for a few batches in flight, so encoding goes on while the last batch is written.
    sink = createWriteStream(file, { fd, highWaterMark: 8 << 20 });
    sink.on('error', (err: NodeJS.ErrnoException) => {
      fail(new Error(`cannot write ${file}: ${describe(err)}`));
      process.exit();
    });
  }
  // A big file on stdin is encoded on every core; a pipe streams through one writer.
  const input = fstatSync(0);
  if (input.isFile() && input.size >= PARALLEL_MIN_BYTES) {
    const pool = new WorkerPool();
    try {
      await encodeParallel(readStdin(read), stream, sink, pool, systemClock);
    } finally {
      await pool.close();
    }
    if (file !== undefined)
      await new Promise<void>((resolve, reject) =>
        sink.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    return;
  }
  const writer = new LogWriter(sink, {
    batchBytes: 1 << 20,
    endSink: file !== undefined,
    recycle: true, // a file or our stdout: done with a batch when it calls back
  });
  let failed: Error | undefined;
  writer.on('error', (err: Error) => (failed = err));
  for await (const chunk of readStdin(read)) {
    if (failed) break;
    if (!writer.write(stream, chunk)) await new Promise((r) => writer.once('drain', r));
  }
  await writer.close().catch((err: Error) => (failed ??= err));
  if (failed) throw new Error(`cannot write ${file ?? 'standard output'}: ${describe(failed)}`);
}

/** The reason of a file-system error in words, without the errno prefix. */
function describe(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'its directory does not exist';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return e.message;
  }
}
