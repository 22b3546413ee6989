// One exec, whatever carries it (SPDY streams or WebSocket channels): hands the client's
// streams to the provider, then ends stdout and stderr and tells the outcome on the error
// stream (exec-status.ts), in that order, so the client has all the output before it learns
// the exit code.
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { notImplemented } from '../errors.js';
import type { Provider } from '../provider.js';
import type { ExecRequest } from './exec-request.js';
import { encodeStatus, errorStatus, type ExecStatus, exitStatus } from './exec-status.js';
import { resizeEvents } from './resize.js';

export interface RemoteCommandStreams {
  /** The stream protocol's version: 1 (channel.k8s.io) to 5. */
  version: number;
  error: Writable;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
}

export async function runRemoteCommand(
  provider: Provider,
  req: ExecRequest,
  streams: RemoteCommandStreams,
  signal: AbortSignal,
): Promise<ExecStatus> {
  let status: ExecStatus;
  try {
    const io = {
      ...(streams.stdin && { stdin: streams.stdin }),
      ...(streams.stdout && { stdout: streams.stdout }),
      ...(streams.stderr && { stderr: streams.stderr }),
      tty: req.tty,
      ...(streams.resize && { resize: resizeEvents(streams.resize) }),
      signal,
    };
    if (req.attach) {
      // An attach is the same streams to the container's own process; no exit code.
      if (!provider.attachToContainer)
        throw notImplemented("attach is not implemented by this node's provider");
      await provider.attachToContainer(req.namespace, req.pod, req.container, io);
      status = exitStatus(0);
    } else {
      if (!provider.runInContainer)
        throw notImplemented("exec is not implemented by this node's provider");
      const r = await provider.runInContainer(
        req.namespace,
        req.pod,
        req.container,
        req.command,
        io,
      );
      status = exitStatus(r.exitCode);
    }
  } catch (err) {
    status = errorStatus(err);
  }
  await Promise.all([streams.stdout, streams.stderr].map((s) => s && endStream(s)));
  await endStream(streams.error, encodeStatus(status, streams.version));
  return status;
}

/** Ends a stream (with `last` written first) and waits until that is sent or it is gone. */
async function endStream(w: Writable, last?: Buffer): Promise<void> {
  if (w.destroyed) return;
  if (!w.writableEnded) {
    if (last && last.length > 0) w.end(last);
    else w.end();
  }
  await finished(w, { readable: false }).catch(() => undefined);
}
