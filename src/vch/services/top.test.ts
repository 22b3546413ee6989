import { describe, expect, it } from 'vitest';
import { parsePs, top } from './top.js';

const PS = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         812     800  0 10:01 ?        00:00:00 busybox sleep  3600
root         900       1  0 10:02 ?        00:00:00 sshd: root@pts/0
`;

describe('docker top', () => {
  it('keeps only the container’s rows; the command keeps its spaces', () => {
    expect(parsePs(PS, new Set([812]))).toEqual({
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: [['root', '812', '800', '0', '10:01', '?', '00:00:00', 'busybox sleep 3600']],
    });
  });

  it('refuses output without a PID column and ps_args that are not options', async () => {
    expect(() => parsePs('USER CMD\nroot x\n', new Set([1]))).toThrow(/PID/);
    await expect(top([1], '-o pid;id')).rejects.toMatchObject({ kind: 'InvalidInput' });
    await expect(top([1], '-p /etc/passwd')).rejects.toMatchObject({ kind: 'InvalidInput' });
  });
});
