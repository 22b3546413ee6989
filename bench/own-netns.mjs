// Runs a benchmark inside a network namespace of its own, so its bridge, veths, taps and
// iptables rules never touch the host's: the script runs itself again under nsenter in a fresh
// namespace (deleted after), and `body` runs only there.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * In the host's namespace: makes one (loopback up), runs `script` again in it and sets the exit
 * code. In the namespace: runs body().
 */
export async function inOwnNetns(script, prefix, body) {
  if (process.env.VIC_BENCH_NETNS) return body();
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${name}`, process.execPath, script], {
      stdio: 'inherit',
      env: { ...process.env, VIC_BENCH_NETNS: name },
    });
    process.exitCode = r.status ?? 1;
  } finally {
    execFileSync('ip', ['netns', 'delete', name]);
  }
}
