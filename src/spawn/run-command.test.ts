// The one command runner, both ways it runs: through the spawn helper (the VCH's way; needs
// `npm run build` for dist/spawn/helper-main.js) and inline (execute.ts). The same cases hold
// for both: exit codes, signals, output, input, caps, timeouts, files handed as fds, errors.
import { constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isKind } from '../errdefs.js';
import { CommandError, execCommand, runCommand, spawnHelperPid } from './run-command.js';

describe.each(['helper', 'inline'])('runCommand (%s)', (mode) => {
  const saved = process.env.VIC_KUBELET_SPAWN;
  beforeEach(() => {
    if (mode === 'inline') process.env.VIC_KUBELET_SPAWN = 'inline';
    else delete process.env.VIC_KUBELET_SPAWN;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.VIC_KUBELET_SPAWN;
    else process.env.VIC_KUBELET_SPAWN = saved;
  });

  it('gives the exit code, stdout and stderr', async () => {
    const o = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(o).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(o.failed).toBeUndefined();
  });

  it('gives the signal that ended the command', async () => {
    const o = await runCommand('sh', ['-c', 'kill -KILL $$']);
    expect(o).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it('writes input to stdin; without input stdin is empty', async () => {
    expect((await runCommand('cat', [], { input: 'héllo\n' })).stdout).toBe('héllo\n');
    expect((await runCommand('cat', [])).stdout).toBe('');
  });

  it('takes env, cwd and keeps only maxBuffer bytes, killing the command beyond', async () => {
    const o = await runCommand('sh', ['-c', 'echo "$X $(pwd)"'], { env: { X: 'x' }, cwd: '/tmp' });
    expect(o.stdout).toBe('x /tmp\n');
    const big = await runCommand('sh', ['-c', 'exec cat /dev/zero'], {
      maxBuffer: 1000,
    });
    expect(big.overflow).toBe('stdout');
    expect(big.stdout.length).toBe(1000);
    expect(big.signal).toBe('SIGTERM');
  });

  it('terminates a command past its timeout', async () => {
    const t0 = Date.now();
    const o = await runCommand('sleep', ['30'], { timeoutMs: 200 });
    expect(o).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('says a missing command is missing (ENOENT) and execCommand rejects, classified', async () => {
    const o = await runCommand('/nonexistent/cmd', []);
    expect(o.failed?.code).toBe('ENOENT');
    const e = await execCommand('/nonexistent/cmd', []).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CommandError);
    expect(isKind(e, 'Unavailable')).toBe(true);
    expect((e as CommandError).code).toBe('ENOENT');
    const f = (await execCommand('sh', ['-c', 'echo no >&2; exit 2']).catch(
      (x) => x,
    )) as CommandError;
    expect(f).toMatchObject({ code: 2, stderr: 'no\n' });
    expect(f.message).toMatch(/^Command failed: sh -c/);
  });

  it('opens files for the command as fds 3, 4 and appends its output to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spawn-test-'));
    writeFileSync(join(dir, 'a'), 'A');
    const append = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
    const o = await runCommand(
      'sh',
      ['-c', 'echo three >&3; echo four >&4; echo out; echo err >&2'],
      {
        files: [
          { path: join(dir, 'a'), flags: append },
          { path: join(dir, 'b'), flags: append | constants.O_EXCL, mode: 0o600 },
        ],
        output: join(dir, 'log'),
        detached: true,
      },
    );
    expect(o.code).toBe(0);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('Athree\n');
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('four\n');
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('out\nerr\n');
    // O_EXCL on a file that exists: the command never runs.
    const again = await runCommand('touch', [join(dir, 'ran')], {
      files: [{ path: join(dir, 'b'), flags: append | constants.O_EXCL }],
    });
    expect(again.failed?.code).toBe('EEXIST');
    expect(() => readFileSync(join(dir, 'ran'))).toThrow();
  });

  it('runs many commands at once', async () => {
    const outs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => runCommand('sh', ['-c', `echo ${i}`])),
    );
    expect(outs.map((o) => o.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`));
  });
});

describe('the spawn helper', () => {
  it('is another, smaller process, and a new one serves after it dies', async () => {
    delete process.env.VIC_KUBELET_SPAWN;
    const o = await runCommand('sh', ['-c', 'echo $PPID']);
    const pid = spawnHelperPid();
    expect(pid).toBeDefined();
    expect(pid).not.toBe(process.pid);
    expect(Number(o.stdout)).toBe(pid);
    // A command under way when the helper dies fails as Unavailable; the next one runs.
    const pending = runCommand('sleep', ['30']);
    process.kill(pid!, 'SIGKILL');
    const e = await pending.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isKind(e, 'Unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/spawn helper exited/);
    const after = await runCommand('sh', ['-c', 'echo $PPID']);
    expect(Number(after.stdout)).toBe(spawnHelperPid());
    expect(spawnHelperPid()).not.toBe(pid);
  });
});
