import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { identify, isAlive } from './proc.js';

describe('process identity', () => {
  it('a zombie and a reused pid are not alive', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const id = identify(child.pid!)!;
    expect(isAlive(id)).toBe(true);
    expect(isAlive({ ...id, startTime: '1' })).toBe(false); // same pid, another process
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(isAlive(id)).toBe(false);
  });
});
