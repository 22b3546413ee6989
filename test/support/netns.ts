// Test helper (not part of the build): a network namespace of the test's own (`ip netns add`),
// with loopback up, for tests whose VCH makes a bridge: the bridge, its veths and its rules live
// and die there, never in the host's namespace. Processes enter it with `nsenter --net=`, which
// keeps the host's /sys and cgroups (`ip netns exec` would remount /sys).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface TestNetns {
  name: string;
  /** /var/run/netns/NAME, for `nsenter --net=`. */
  path: string;
  /** The argv prefix that runs a command inside the namespace. */
  prefix: string[];
  /** Runs a command inside the namespace and answers its standard output. */
  run(cmd: string, args: string[]): string;
  remove(): void;
}

export function createNetns(prefix: string): TestNetns {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const path = `/var/run/netns/${name}`;
  execFileSync('ip', ['netns', 'add', name]);
  const enter = ['nsenter', `--net=${path}`];
  const run = (cmd: string, args: string[]) =>
    execFileSync(enter[0], [...enter.slice(1), cmd, ...args], { encoding: 'utf8' });
  run('ip', ['link', 'set', 'lo', 'up']);
  return {
    name,
    path,
    prefix: enter,
    run,
    remove: () => execFileSync('ip', ['netns', 'delete', name]),
  };
}
