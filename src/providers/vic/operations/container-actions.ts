// What a probe or a lifecycle hook does, run against one container of a pod: exec (an exec
// task in the container, through the portlayer), httpGet, tcpSocket and grpc (to the pod's IP),
// sleep (hooks only). Which handlers this node runs is decided once, in action-support.ts.
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../../../node/errors.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { grpcProbe } from './grpc-probe.js';
import {
  execOutcome,
  httpProbe,
  type ProbeOutcome,
  resolvePort,
  tcpProbe,
} from './probe-handlers.js';

/** The fields of a V1Probe or V1LifecycleHandler that say what to do. */
export interface ActionHandler {
  exec?: k8s.V1ExecAction;
  httpGet?: k8s.V1HTTPGetAction;
  tcpSocket?: k8s.V1TCPSocketAction;
  grpc?: k8s.V1GRPCAction;
  sleep?: k8s.V1SleepAction;
}

export interface ActionTarget {
  isolation: IsolationProxy;
  /** The pod's id on the VCH. */
  podId: string;
  container: k8s.V1Container;
  /** The pod's IP, when it has one. */
  podIP(): string | undefined;
}

/** Runs the handler once, within `timeoutSec`; any error is a failure with its message. */
export async function runAction(
  h: ActionHandler,
  t: ActionTarget,
  timeoutSec: number,
  signal: AbortSignal,
): Promise<ProbeOutcome> {
  try {
    if (h.exec) {
      const argv = h.exec.command ?? [];
      if (argv.length === 0) return { ok: false, output: 'exec: no command' };
      const r = await t.isolation.execInTask(t.podId, t.container.name, argv, timeoutSec, signal);
      return execOutcome(r, timeoutSec);
    }
    if (h.sleep) {
      await sleepFor(Math.min(h.sleep.seconds, timeoutSec) * 1000, signal);
      return { ok: true, output: '' };
    }
    const ip = t.podIP();
    if (h.httpGet) {
      const g = h.httpGet;
      return await httpProbe(
        {
          scheme: g.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
          host: g.host || need(ip),
          port: resolvePort(g.port as number | string, t.container),
          path: g.path ?? '/',
          headers: g.httpHeaders ?? [],
        },
        timeoutSec * 1000,
      );
    }
    if (h.tcpSocket) {
      const port = resolvePort(h.tcpSocket.port as number | string, t.container);
      return await tcpProbe(h.tcpSocket.host || need(ip), port, timeoutSec * 1000);
    }
    if (h.grpc) {
      // As the kubelet: always the pod's IP, a port number (no name), the service or "".
      const port = h.grpc.port;
      return await grpcProbe(need(ip), port, h.grpc.service ?? '', timeoutSec * 1000);
    }
    return { ok: false, output: 'this node does not run this kind of probe' };
  } catch (err) {
    return { ok: false, output: errorMessage(err) };
  }
}

function need(ip: string | undefined): string {
  if (!ip) throw new Error('the pod has no IP yet');
  return ip;
}

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
