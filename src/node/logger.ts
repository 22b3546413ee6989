// The daemon's structured log: one JSON line per event (pino), on stderr.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    { name: 'vic-kubelet', level: options.level ?? 'info', base: undefined },
    pino.destination({ fd: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything (tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
