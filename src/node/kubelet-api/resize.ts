// A resize stream: kubectl writes one JSON object per terminal size change,
// `{"Width":80,"Height":24}`, back to back (Go's json.Encoder). Sizes come out as they arrive;
// anything that is not such an object ends the stream (a bad client loses resizing, no more).
import type { Readable } from 'node:stream';
import type { TerminalSize } from '../provider.js';

const MAX_PENDING = 4096;

export async function* resizeEvents(stream: Readable): AsyncGenerator<TerminalSize> {
  try {
    yield* sizes(stream);
  } finally {
    // Nobody reads it any more: what a bad client goes on sending is dropped, not buffered.
    stream.resume();
  }
}

async function* sizes(stream: Readable): AsyncGenerator<TerminalSize> {
  let pending = '';
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    pending += (chunk as Buffer).toString('utf8');
    for (;;) {
      const start = pending.indexOf('{');
      const end = pending.indexOf('}', start);
      if (start < 0 || end < 0) break;
      let v: unknown;
      try {
        v = JSON.parse(pending.slice(start, end + 1));
      } catch {
        return;
      }
      pending = pending.slice(end + 1);
      const { Width: width, Height: height } = v as { Width?: unknown; Height?: unknown };
      if (!Number.isInteger(width) || !Number.isInteger(height)) return;
      yield { width: width as number, height: height as number };
    }
    if (pending.length > MAX_PENDING) return;
  }
}
