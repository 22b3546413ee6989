import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpioNewc } from './cpio.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('cpioNewc', () => {
  it('writes an archive busybox cpio unpacks: dirs, files, modes, symlinks', () => {
    const archive = cpioNewc([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: '/init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { type: 'file', path: 'bin/odd', data: Buffer.from('12345') }, // needs padding
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    ]);
    expect(archive.length % 4).toBe(0);
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a.cpio'), archive);
    const x = join(dir, 'x');
    const r = spawnSync('sh', ['-c', `mkdir ${x} && cd ${x} && busybox cpio -i -d < ../a.cpio`], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(x, 'init'), 'utf8')).toBe('#!/bin/sh\n');
    expect(lstatSync(join(x, 'init')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(x, 'bin/odd'), 'utf8')).toBe('12345');
    expect(readlinkSync(join(x, 'bin/sh'))).toBe('busybox');
    expect(lstatSync(join(x, 'bin')).isDirectory()).toBe(true);
  });

  it('refuses paths that climb out', () => {
    expect(() => cpioNewc([{ type: 'dir', path: '../etc' }])).toThrow(/bad path/);
    expect(() => cpioNewc([{ type: 'dir', path: '/' }])).toThrow(/bad path/);
  });

  it('writes device nodes with their numbers', () => {
    const a = cpioNewc([{ type: 'char', path: 'dev/console', major: 5, minor: 1 }]);
    const head = a.subarray(0, 110).toString();
    // mode (field 2) is a character device; rdevmajor/minor are fields 10 and 11.
    expect(parseInt(head.slice(14, 22), 16) & 0o170000).toBe(0o020000);
    expect(parseInt(head.slice(78, 86), 16)).toBe(5);
    expect(parseInt(head.slice(86, 94), 16)).toBe(1);
  });
});
