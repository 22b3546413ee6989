// Two byte streams joined both ways: a forwarded connection's two halves (the portlayer's
// port-forward upgrade on the VCH, the kubelet API's port-forward streams on the node).
import type { Duplex } from 'node:stream';

/**
 * Joins two duplexes both ways: each end's half-close reaches the other. Once one is closed,
 * the other goes as soon as it has written what it was handed (nothing more can reach the
 * closed one); one cut short (an error, a reset) cuts the other at once. Resolves when both
 * are closed.
 */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
  const after = (self: Duplex, other: Duplex) => () => {
    if (!self.readableEnded || other.writableFinished) return void other.destroy();
    other.once('finish', () => other.destroy());
  };
  a.once('close', after(a, b));
  b.once('close', after(b, a));
  const closed = (s: Duplex) =>
    s.closed ? Promise.resolve() : new Promise<void>((r) => s.once('close', () => r()));
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}
