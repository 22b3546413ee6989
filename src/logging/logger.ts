// The daemons' structured log: one JSON line per event (pino), on stderr. A leaf module: the
// node, the VCH, the providers and the commands all log through it.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    { name: 'vic-kubelet', level: options.level ?? 'info', base: undefined },
    pino.destination({ fd: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything (where no one looks at the logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
