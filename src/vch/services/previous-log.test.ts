import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  keepPreviousLog,
  keepPreviousRun,
  logPerInstance,
  previousLogPath,
  readPreviousRun,
} from './previous-log.js';

describe('the previous instance’s end', () => {
  it('is kept beside its log and read back; a newer one replaces it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prev-run-'));
    const log = join(dir, 'output.log');
    expect(readPreviousRun(log)).toBeUndefined();
    await keepPreviousRun(log, { exitCode: 1, startedAt: 'a', finishedAt: 'b' });
    expect(readPreviousRun(log)).toEqual({ exitCode: 1, startedAt: 'a', finishedAt: 'b' });
    await keepPreviousRun(log, { exitCode: 137, error: 'OOMKilled', terminationMessage: 'm' });
    expect(readPreviousRun(log)).toEqual({
      exitCode: 137,
      error: 'OOMKilled',
      terminationMessage: 'm',
    });
  });

  it('a malformed record, or a link in its place, reads as none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prev-run-'));
    const log = join(dir, 'output.log');
    await keepPreviousRun(log, { exitCode: 1 });
    writeFileSync(join(`${dir}.previous`, 'exit.json'), '{"exitCode": "x", "error": 5');
    expect(readPreviousRun(log)).toBeUndefined();
    writeFileSync(join(`${dir}.previous`, 'exit.json'), '{"exitCode": 1.5, "error": 5}');
    expect(readPreviousRun(log)).toEqual({});
    writeFileSync(join(dir, 'elsewhere'), '{"exitCode": 3}');
    rmSync(join(`${dir}.previous`, 'exit.json'));
    symlinkSync(join(dir, 'elsewhere'), join(`${dir}.previous`, 'exit.json'));
    expect(readPreviousRun(log)).toBeUndefined();
  });
});

describe('the previous instance’s log', () => {
  it('moves the log and its rotated files apart, replacing the instance before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prev-log-'));
    const log = join(dir, 'output.log');
    writeFileSync(log, 'first');
    await keepPreviousLog(log);
    writeFileSync(log, 'second-new');
    writeFileSync(`${log}.1`, 'second-old');
    writeFileSync(join(dir, 'other'), 'kept');
    await keepPreviousLog(log);
    expect(readdirSync(`${dir}.previous`).sort()).toEqual(['output.log', 'output.log.1']);
    expect(readFileSync(previousLogPath(log), 'utf8')).toBe('second-new');
    expect(readFileSync(`${previousLogPath(log)}.1`, 'utf8')).toBe('second-old');
    // The new instance starts on an empty log; nothing else is touched.
    expect(readFileSync(log, 'utf8')).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['other', 'output.log']);
  });

  it('follows no link the container planted: a link moves as a link, nothing is made through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prev-log-'));
    const outside = join(mkdtempSync(join(tmpdir(), 'prev-out-')), 'target');
    const log = join(dir, 'output.log');
    symlinkSync(outside, log);
    writeFileSync(`${log}.1`, 'x');
    await keepPreviousLog(log);
    expect(existsSync(outside)).toBe(false);
    expect(lstatSync(previousLogPath(log)).isSymbolicLink()).toBe(true);
    expect(lstatSync(log).isFile()).toBe(true);
  });

  it('is kept for a pod’s containers, not for Docker’s', () => {
    expect(logPerInstance({ 'vic.portlayer.task': 'x' })).toBe(true);
    expect(logPerInstance({})).toBe(false);
    expect(logPerInstance(undefined)).toBe(false);
  });
});
