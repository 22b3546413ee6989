// kubectl exec on a VIC pod (virtual-kubelet's RunInContainer), as VIC's persona drives an exec
// session: a task join with attach on the pod's handle, bound and committed, then the exec's
// streams over the portlayer's interaction API (stdout, stderr, stdin, resize) and its exit code
// from the task's wait and inspect. Output streams as it comes, with backpressure end to end;
// the client going away (io.signal) drops the output connections, which kills the exec.
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NodeError } from '../../../node/errors.js';
import type { ExecIO, ExecResult } from '../../../node/provider.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';

export type ExecProxy = Pick<
  IsolationProxy,
  'startAttachedExec' | 'execOutput' | 'execInput' | 'execResize' | 'execWait'
>;

export async function execInPod(
  isolation: ExecProxy,
  vp: VicPod,
  container: string,
  command: string[],
  io: ExecIO,
): Promise<ExecResult> {
  const where = `pod ${vp.pod.metadata?.namespace}/${vp.pod.metadata?.name}`;
  const c = vp.containers.get(container);
  if (!c) throw new NodeError('NotFound', `container ${container} is not in ${where}`);
  if (command.length === 0 || command[0] === '')
    throw new NodeError('InvalidInput', 'exec needs a command');
  if (!vp.id || !c.taskId)
    throw new NodeError(
      'Conflict',
      `container ${container} in ${where} is not running: ${c.waiting?.reason ?? 'ContainerCreating'}`,
    );

  const id = await isolation.startAttachedExec(vp.id, container, command, {
    stdin: io.stdin !== undefined,
    tty: io.tty,
  });
  // Ends when the output is all through (or the client is gone): input and resizes stop then.
  const session = new AbortController();
  const gone = AbortSignal.any([io.signal, session.signal]);
  const output = (which: 'stdout' | 'stderr', to: Writable | undefined) =>
    isolation.execOutput(id, which, io.signal).then((from) => copy(from, to));
  const input = io.stdin && isolation.execInput(id, io.stdin, gone).catch(() => undefined);
  const resizes = io.resize && resizeLoop(isolation, id, io.resize, gone);
  try {
    await Promise.all([output('stdout', io.stdout), !io.tty && output('stderr', io.stderr)]);
  } finally {
    session.abort();
  }
  await Promise.all([input, resizes]);
  return { exitCode: await isolation.execWait(vp.id, id, io.signal) };
}

/**
 * kubectl attach (virtual-kubelet's AttachToContainer), as VIC's persona attaches to a
 * container: its own session over the interaction API by its task id — its output from now on
 * until it exits (or the client goes), its stdin through the tether, resizes of its terminal.
 * The client's input ending ends the session too, unless the container's stdin closes with it
 * and its output runs on to the end (stdinOnce without a terminal): Docker's and the CRI's rule.
 */
export async function attachInPod(
  isolation: ExecProxy,
  vp: VicPod,
  container: string,
  io: ExecIO,
): Promise<void> {
  const where = `pod ${vp.pod.metadata?.namespace}/${vp.pod.metadata?.name}`;
  const c = vp.containers.get(container);
  // Ephemeral ones too: `kubectl debug -it` attaches to the one it added.
  const spec = [
    ...(vp.pod.spec?.containers ?? []),
    ...(vp.pod.spec?.initContainers ?? []),
    ...(vp.pod.spec?.ephemeralContainers ?? []),
  ].find((s) => s.name === container);
  if (!c || !spec) throw new NodeError('NotFound', `container ${container} is not in ${where}`);
  if (!vp.id || !c.taskId || c.waiting)
    throw new NodeError(
      'Conflict',
      `container ${container} in ${where} is not running: ${c.waiting?.reason ?? 'ContainerCreating'}`,
    );
  if (io.stdin && !spec.stdin)
    throw new NodeError(
      'InvalidInput',
      `container ${container} in ${where} was not created with stdin: attach without -i, or set stdin: true`,
    );
  if (io.tty && !spec.tty)
    throw new NodeError(
      'InvalidInput',
      `container ${container} in ${where} was not created with a terminal: attach without -t, or set tty: true`,
    );
  const id = c.taskId;
  const session = new AbortController();
  const outputs = AbortSignal.any([io.signal, session.signal]);
  // The output is followed from when its request is answered: input goes only after that, or
  // what the container answers to it at once could come before the session sees it.
  const opened = (which: 'stdout' | 'stderr') =>
    isolation.execOutput(id, which, outputs).catch((e: unknown) => {
      if (!outputs.aborted) throw e;
      return undefined;
    });
  const streams = [opened('stdout'), io.tty ? undefined : opened('stderr')];
  await Promise.allSettled(streams);
  const output = async (from: Promise<Readable | undefined> | undefined, to?: Writable) => {
    const r = await from;
    if (r)
      await copy(r, to).catch((e: unknown) => {
        if (!outputs.aborted) throw e;
      });
  };
  const endsOutput = !(spec.stdinOnce === true && spec.tty !== true);
  const input =
    io.stdin &&
    isolation
      .execInput(id, io.stdin, outputs)
      .catch(() => undefined)
      .then(() => {
        if (endsOutput) session.abort();
      });
  const resizes = io.resize && resizeLoop(isolation, id, io.resize, outputs);
  try {
    await Promise.all([output(streams[0], io.stdout), output(streams[1], io.stderr)]);
  } finally {
    session.abort();
  }
  await Promise.all([input, resizes]);
}

/** Copies without ending `to` (the caller ends the client's streams); no `to`: drained. */
async function copy(from: Readable, to: Writable | undefined): Promise<void> {
  if (!to) {
    from.resume();
    await new Promise((resolve) => from.once('close', resolve));
    return;
  }
  await pipeline(from, to, { end: false });
}

async function resizeLoop(
  isolation: ExecProxy,
  id: string,
  sizes: AsyncIterable<{ width: number; height: number }>,
  signal: AbortSignal,
): Promise<void> {
  const it = sizes[Symbol.asyncIterator]();
  const stop = new Promise<IteratorResult<{ width: number; height: number }>>((resolve) => {
    if (signal.aborted) resolve({ done: true, value: undefined });
    signal.addEventListener('abort', () => resolve({ done: true, value: undefined }));
  });
  for (;;) {
    // A resize stream that breaks (the client gone) ends the loop: it must never reject, as
    // it is awaited only once the output is through.
    const next = await Promise.race([it.next(), stop]).catch(
      () => ({ done: true, value: undefined }) as const,
    );
    if (next.done) break;
    // A resize that misses (the exec just ended) is of no consequence.
    await isolation.execResize(id, next.value).catch(() => undefined);
  }
  // A client gone mid-session leaves its resize stream destroyed: its return() rejects.
  Promise.resolve(it.return?.(undefined)).catch(() => undefined);
}
