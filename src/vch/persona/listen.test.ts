import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenUnix } from './listen.js';

describe('listenUnix', () => {
  it('puts the socket in place with mode 0660 whatever the umask, and removes it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'listen-test-'));
    const path = join(dir, 'docker.sock');
    const old = process.umask(0);
    const server = createServer((_req, res) => res.end('ok'));
    try {
      await listenUnix(server, path);
    } finally {
      process.umask(old);
    }
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(readdirSync(dir)).toEqual(['docker.sock']);
    await new Promise((r) => server.close(r));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'listen-test-'));
    writeFileSync(join(dir, 'x'), 'keep');
    await expect(listenUnix(createServer(), join(dir, 'x'))).rejects.toThrow(/is not a socket/);
  });
});
