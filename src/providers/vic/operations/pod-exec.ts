// kubectl exec on a VIC pod (virtual-kubelet's RunInContainer), over the portlayer's exec
// task as VIC's persona drives it (IsolationProxy.execInTask, which probes and hooks use too).
// That primitive has no stdin and no terminal, and answers the output (its first MiB
// of each stream) at the end: an exec that asks for stdin or a TTY is refused with a clear
// error instead of hanging, and output cut at that MiB fails the exec rather than pass as whole.
import type { Writable } from 'node:stream';
import { NodeError } from '../../../node/errors.js';
import type { ExecIO, ExecResult } from '../../../node/provider.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';

export type ExecProxy = Pick<IsolationProxy, 'execInTask'>;

export const INTERACTIVE_REFUSED = 'interactive exec is not supported by this node yet';

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
  if (io.stdin || io.tty)
    throw new NodeError(
      'NotImplemented',
      `${INTERACTIVE_REFUSED} (stdin and TTY need a streaming exec): run the command without -i and -t`,
    );
  if (command.length === 0 || command[0] === '')
    throw new NodeError('InvalidInput', 'exec needs a command');
  if (!vp.id || !c.taskId)
    throw new NodeError(
      'Conflict',
      `container ${container} in ${where} is not running: ${c.waiting?.reason ?? 'ContainerCreating'}`,
    );

  const r = await isolation.execInTask(vp.id, container, command, undefined, io.signal);
  await Promise.all([write(io.stdout, r.stdout), write(io.stderr, r.stderr)]);
  const cut = [r.stdoutTruncated && 'stdout', r.stderrTruncated && 'stderr'].filter(Boolean);
  if (cut.length > 0)
    throw new NodeError(
      'NotImplemented',
      `the command wrote more than 1 MiB to ${cut.join(' and ')}; only the first MiB was kept (streaming exec is not supported by this node yet)`,
    );
  return { exitCode: r.exitCode };
}

function write(to: Writable | undefined, data: Buffer): Promise<void> {
  if (!to || data.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => to.write(data, (err) => (err ? reject(err) : resolve())));
}
