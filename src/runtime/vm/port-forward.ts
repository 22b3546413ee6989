// A port-forward connection into a pod VM (kubectl port-forward): the agent connects to the
// port on the guest's loopback (tether/protocol.h connect) and the connection's bytes travel on
// a channel of the data port (data-mux.ts), which is the Duplex handed back.
import type { Duplex } from 'node:stream';
import { unavailable } from '../errors.js';
import { checkForwardPort } from '../core/forward-port.js';
import type { AgentMessage, ConnectAnswer, ControlChannel } from './control.js';
import type { DataMux } from './data-mux.js';

/** How long the agent has to say whether the connection is made. */
const CONNECT_ANSWER_MS = 15_000;

/**
 * Resolves with the connection once the agent has made it; Unavailable with the agent's
 * reason when nothing listens there (the kubelet's error reaches kubectl with it).
 */
export async function connectInVm(
  control: ControlChannel,
  mux: DataMux,
  port: number,
): Promise<Duplex> {
  checkForwardPort(port);
  const ch = mux.open();
  const answer = control.next(
    (m: AgentMessage): m is ConnectAnswer =>
      (m.type === 'connected' || m.type === 'connfail') && m.chan === ch.id,
    CONNECT_ANSWER_MS,
    `the connection to port ${port}`,
  );
  answer.catch(() => undefined);
  try {
    control.send(['connect', ch.id, port]);
    const m = await answer;
    if (m.type === 'connfail') throw unavailable(m.message);
    return ch;
  } catch (e) {
    ch.destroy();
    throw e;
  }
}
