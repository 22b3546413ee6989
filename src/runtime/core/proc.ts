// Host processes we do not parent: containers are children of runc's parent's reaper, not of
// the VCH. A pid alone can be reused, so a process is known by its pid and its start time
// (field 22 of /proc/<pid>/stat, in clock ticks since boot), and a zombie counts as gone.
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

function stat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may contain anything: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: fields[19] };
}

export function identify(pid: number): ProcessIdentity | undefined {
  const s = stat(pid);
  return s ? { pid, startTime: s.startTime } : undefined;
}

/** Whether the very process `id` names still runs (not exited, not a zombie). */
export function isAlive(id: ProcessIdentity): boolean {
  const s = stat(id.pid);
  return s !== undefined && s.startTime === id.startTime && s.state !== 'Z' && s.state !== 'X';
}

/** This boot of the host: after a reboot every container is gone without a word. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
