// Helpers of the vm backend's tests (not part of the package's API).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { defaultAgentPath } from '../../src/runtime/vm/guest-build.js';
import { ensureTetherBuild } from './runtime.js';

/** dist/tether/vic-agent (the pod VM's agent), built first when missing or stale. */
export function ensureAgent(): string {
  return ensureTetherBuild('agent', defaultAgentPath(), (f) => f === 'main.c');
}

/** Pids of qemu processes whose command line mentions `text`. */
export function qemuPids(text: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('qemu-system') && cmd.includes(text)) out.push(Number(p));
  }
  return out;
}

/** SIGKILLs every qemu whose command line mentions `text` (test cleanup). */
export function killQemus(text: string): void {
  for (const pid of qemuPids(text)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Waits (synchronously, for cleanup) until no such qemu runs, up to ms. */
export function waitNoQemu(text: string, ms = 5000): boolean {
  const until = Date.now() + ms;
  while (qemuPids(text).length > 0) {
    if (Date.now() > until) return false;
    spawnSync('sleep', ['0.05']);
  }
  return true;
}
