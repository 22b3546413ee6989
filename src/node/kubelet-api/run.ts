// The kubelet's /run: `POST /run/{namespace}/{pod}/{container}?cmd=...` runs a command (the
// words of `cmd`, split on spaces as the kubelet splits them) without any input and answers
// its output, both streams together; a command that fails answers 500 with why.
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { HttpError } from '../../errdefs.js';
import { notImplemented } from '../errors.js';
import type { Provider } from '../provider.js';
import { podContainerOf } from './exec-request.js';

/** Largest output answered; beyond it the command fails (as an exec would not be cut). */
const MAX_OUTPUT = 4 << 20;

export async function runCommand(
  provider: Provider,
  res: ServerResponse,
  parts: string[],
  query: URLSearchParams,
): Promise<void> {
  const [namespace, pod, container] = podContainerOf(parts, 'run');
  const command = (query.get('cmd') ?? '').split(' ').filter((w) => w !== '');
  if (command.length === 0) throw new HttpError(400, 'run needs a command (the `cmd` parameter)');
  if (!provider.runInContainer)
    throw notImplemented("/run is not implemented by this node's provider");
  const out: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > MAX_OUTPUT) return cb(new HttpError(500, 'output over 4 MiB'));
      out.push(chunk);
      cb();
    },
  });
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const r = await provider.runInContainer(namespace, pod, container, command, {
    stdout: sink,
    stderr: sink,
    tty: false,
    signal: abort.signal,
  });
  if (r.exitCode !== 0)
    throw new HttpError(
      500,
      `command terminated with non-zero exit code: exit status ${r.exitCode}`,
    );
  const body = Buffer.concat(out);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
}
