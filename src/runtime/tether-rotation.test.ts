// The tether's log rotation and its behaviour on a full disk (tether/iolog-out.c), read back
// with the query engine as one log (src/iolog/rotated.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LogQuery, queryLog } from '../iolog/index.js';
import { decodeAll } from '../../test/support/iolog.js';
import { ensureTether } from '../../test/support/runtime.js';

let tether: string;
let tmp: string;
beforeAll(() => {
  tether = ensureTether();
  tmp = mkdtempSync(join(tmpdir(), 'tether-rotation-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
let n = 0;

/** Runs `script` under the tether with its log rotated at maxSize bytes into maxFiles files. */
function rotating(script: string, maxSize: number, maxFiles: number, wrap: string[] = []): string {
  const dir = join(tmp, `c${n++}`);
  mkdirSync(dir);
  const args = [
    '--log-fd', '3', '--log-dir-fd', '4', '--log-name', 'output.log',
    '--log-max-size', String(maxSize), '--log-max-files', String(maxFiles), '--', 'sh', '-c', script,
  ]; // prettier-ignore
  const r = spawnSync(
    'bash',
    ['-c', 'exec "$@" 3>>"$D/output.log" 4<"$D"', 'bash', ...wrap, tether, ...args],
    { env: { ...process.env, D: dir }, encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  return join(dir, 'output.log');
}

async function text(path: string, q: LogQuery = {}): Promise<string> {
  let s = '';
  for await (const c of queryLog(path, q)) s += c.data.toString();
  return s;
}

const seq = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');

/** The log's files, oldest first, and their sizes. */
function files(path: string): { name: string; size: number }[] {
  const dir = join(path, '..');
  return readdirSync(dir)
    .filter((f) => f.startsWith('output.log'))
    .map((f) => ({ name: f, size: statSync(join(dir, f)).size }))
    .sort((a, b) => b.name.length - a.name.length || (a.name < b.name ? 1 : -1));
}

describe('tether log rotation', () => {
  it('200k lines through 20+ rotations: all of them in order, tail and since across files', async () => {
    const maxSize = 200 * 1024;
    const path = rotating('seq 1 200000', maxSize, 40);
    const fs = files(path);
    // ~4.6 MB of entries in files of at most 200 KiB: more than 20 rotations, none dropped.
    expect(fs.length).toBeGreaterThan(20);
    expect(fs.length).toBeLessThan(40);
    for (const f of fs) expect(f.size).toBeLessThanOrEqual(maxSize);
    // Each file on its own is a whole log: it starts and ends at an entry boundary.
    for (const f of fs) {
      const bytes = readFileSync(join(path, '..', f.name));
      const es = decodeAll(bytes);
      const last = es.at(-1)!;
      expect(es[0].offset).toBe(0);
      expect(last.offset + 16 + last.message.length).toBe(bytes.length);
    }
    expect(await text(path)).toBe(seq(1, 200000));
    expect(await text(path, { tail: 10 })).toBe(seq(199991, 200000));
    // since: the first line stamped at or after the time of line 123457 (lines read together
    // share their time) and everything after it.
    const all = fs.flatMap((f) => decodeAll(readFileSync(join(path, '..', f.name))));
    const at = all[123456].ts;
    const first = all.findIndex((e) => e.ts >= at);
    expect(await text(path, { since: at })).toBe(seq(first + 1, 200000));
  });

  it('keeps at most max-files files: the oldest go, disk stays under max-size × max-files', async () => {
    const maxSize = 64 * 1024;
    const path = rotating('seq 1 200000', maxSize, 3);
    const fs = files(path);
    expect(fs.map((f) => f.name)).toEqual(['output.log.2', 'output.log.1', 'output.log']);
    const total = fs.reduce((s, f) => s + f.size, 0);
    expect(total).toBeLessThanOrEqual(maxSize * 3);
    // What is left is the newest lines, whole and in order, up to the last.
    const got = (await text(path)).split('\n').slice(0, -1).map(Number);
    expect(got.at(-1)).toBe(200000);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => 200000 - got.length + 1 + i));
    expect(got.length).toBeGreaterThan(1000);
  });

  it('goes on in a fresh file when its log was deleted under it, the rotated ones kept', async () => {
    // (Here the process can reach the directory; in a container only the VCH could.)
    const path = rotating(
      'seq 1 20000; sleep 0.3; rm "$D/output.log"; seq 20001 40000',
      64 * 1024,
      40,
    );
    const got = (await text(path)).split('\n').slice(0, -1).map(Number);
    // The oldest lines are all there, then one gap (what went to the deleted file), then the
    // rest to the last.
    expect(got[0]).toBe(1);
    expect(got.at(-1)).toBe(40000);
    const gaps = got.filter((v, i) => i > 0 && v !== got[i - 1] + 1);
    expect(gaps).toHaveLength(1);
  });

  it('keeps the log directory fd from the process, and /proc cannot reach it', async () => {
    // As in a container: root without CAP_SYS_PTRACE (see tether.test.ts for the log fd).
    const script =
      'for f in 3 4; do [ -e /proc/$$/fd/$f ] && echo "holds $f"; done; ' +
      'for f in 3 4; do readlink /proc/$PPID/fd/$f >/dev/null 2>&1 && echo "reads $f"; done; ' +
      'echo checked';
    const path = rotating(script, 64 * 1024, 3, [
      'setpriv',
      '--inh-caps=-sys_ptrace',
      '--bounding-set=-sys_ptrace',
    ]);
    expect(await text(path)).toBe('checked\n');
  });

  it('rejects rotation arguments it cannot honour', () => {
    for (const bad of [
      ['--log-max-size', '100'], // below one whole entry
      ['--log-max-files', '1'],
    ]) {
      const r = spawnSync(
        tether,
        ['--log-dir-fd', '0', '--log-name', 'output.log', '--log-max-size', '1048576',
          '--log-max-files', '5', ...bad, '--', 'true'], // prettier-ignore
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^usage: tether/);
    }
  });
});

describe('tether on a full disk', () => {
  it('never leaves a torn entry, holds the output, and goes on when space returns', async () => {
    // A 16 MiB tmpfs in a mount namespace of its own, nearly filled; the process writes ~2 MB of
    // lines (~7 MB of log: more than the 1 MiB pipe holds), blocks while the disk is full, and
    // finishes once the filler is removed.
    const dir = join(tmp, `full${n++}`);
    mkdirSync(dir);
    const script = `
      set -e
      mount -t tmpfs -o size=16m tmpfs "$D"
      head -c 16000000 /dev/zero > "$D/filler"
      "$T" --log-fd 3 -- sh -c 'seq 1 300000' 3>>"$D/output.log" &
      pid=$!
      sleep 1
      kill -0 $pid                       # still running: waiting for space
      cp "$D/output.log" "$OUT/stalled.log"
      rm "$D/filler"
      wait $pid
      cp "$D/output.log" "$OUT/final.log"
    `;
    const out = join(dir, 'out');
    mkdirSync(out);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
      env: { ...process.env, D: mnt, T: tether, OUT: out },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const stalled = readFileSync(join(out, 'stalled.log'));
    const full = readFileSync(join(out, 'final.log'));
    // While stalled: less than all of it, and it ends exactly at an entry's end.
    const es = decodeAll(stalled);
    expect(stalled.length).toBeGreaterThan(0);
    expect(stalled.length).toBeLessThan(full.length);
    expect(es.at(-1)!.offset + 16 + es.at(-1)!.message.length).toBe(stalled.length);
    // In the end: every line, once, in order.
    expect(
      decodeAll(full)
        .map((e) => e.message.toString())
        .join(''),
    ).toBe(seq(1, 300000));
  });
});
