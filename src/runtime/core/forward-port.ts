// What both backends check of a port-forward's port.
import { invalidInput } from '../errors.js';

/** Checks a port as the kubelet does: 1..65535. */
export function checkForwardPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalidInput(`port ${port}: want 1 to 65535`);
}
