// zstd layers (application/vnd.oci.image.layer.v1.tar+zstd): Node 20's zlib has no zstd, so
// the layer goes through Debian's `zstd` program, a child reading stdin and writing stdout,
// with backpressure both ways. Bad input is InvalidInput (zstd's own message); a machine
// without the program is Unavailable.
import { spawn } from 'node:child_process';
import { Duplex, Readable, Writable } from 'node:stream';
import { InvalidInputError, UnavailableError } from './errors.js';

/** A stream that takes zstd-compressed bytes and gives the decompressed ones. */
export function zstdDecompressor(label: string): Duplex {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  // A write waiting for room goes on when there is room, or when zstd stopped reading (EPIPE
  // on bad input: its exit status says why, at the end of the output).
  let waiting: (() => void) | undefined;
  const goOn = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  child.stdin.on('drain', goOn).on('error', goOn).on('close', goOn);
  const input = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (child.stdin.destroyed || child.stdin.write(chunk)) done();
      else waiting = () => done();
    },
    final(done) {
      child.stdin.end();
      done();
    },
    destroy(err, done) {
      // Destroyed after a normal finish too (autoDestroy): zstd then still has output to give.
      if (err || !this.writableFinished) child.kill('SIGKILL');
      done(err);
    },
  });
  async function* output(): AsyncIterable<Buffer> {
    let whole = false;
    try {
      for await (const chunk of child.stdout) yield chunk as Buffer;
      whole = true;
    } catch {
      // The exit status below says what went wrong.
      whole = true;
    } finally {
      // The reader gave up early: zstd is not needed any more.
      if (!whole) child.kill('SIGKILL');
    }
    let code: number | null;
    try {
      code = await exited;
    } catch (e) {
      throw new UnavailableError(
        `cannot unpack zstd layer ${label}: the zstd program did not run (${(e as Error).message})`,
      );
    }
    if (code !== 0)
      throw new InvalidInputError(
        `${label} is not valid zstd: ${stderr.trim().split('\n').pop() || `zstd exited ${code}`}`,
      );
  }
  return Duplex.from({ writable: input, readable: Readable.from(output()) });
}
