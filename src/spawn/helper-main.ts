// The spawn helper: a small long-lived Node process that runs commands for the VCH. Forking the
// VCH itself for each runc, mount and CNI call copied its whole address space (hundreds of MiB
// of page tables and heap) and blocked its event loop for the fork and exec; this process holds
// little, so its forks are cheap, and they block only its own loop. Requests come one JSON line
// each on stdin (protocol.ts), replies go out one line each on stdout, in completion order.
// It exits when its stdin closes (the VCH is gone); commands under way run to their end.
//
// Node rather than C: the protocol is JSON and execFile's semantics (timeouts, caps, signals)
// are Node's own; a C helper would need its own JSON parser for a gain in fork cost that the
// profile does not need (this process's RSS is a fraction of the VCH's).
import { createInterface } from 'node:readline';
import { execute } from './execute.js';
import type { HelperReply, HelperRequest } from './protocol.js';

// A reply that cannot be written (the VCH died) is nobody's loss.
process.stdout.on('error', () => {});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  let req: HelperRequest;
  try {
    req = JSON.parse(line) as HelperRequest;
  } catch {
    return; // not ours: the client only writes whole JSON lines
  }
  void execute(req).then((outcome) => {
    const reply: HelperReply = { id: req.id, ...outcome };
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
