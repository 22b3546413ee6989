// The benchmarks' image: an OCI layout of busybox-static with every applet linked, built with
// umoci under `work`, named bench/busybox:TAG for the VCH to load.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Builds the layout under `work` and returns its path. */
export function busyboxLayout(work, tag) {
  const src = join(work, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'tmp'), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox-static is not installed');
  copyFileSync(busybox, join(src, 'bin/busybox'));
  for (const a of spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n'))
    if (a && a !== 'busybox') symlinkSync('busybox', join(src, 'bin', a));
  const layout = join(work, 'oci');
  const ref = `${layout}:${tag}`;
  const umoci = (...args) => execFileSync('umoci', args);
  umoci('init', '--layout', layout);
  umoci('new', '--image', ref);
  umoci('insert', '--image', ref, src, '/');
  umoci('config', '--image', ref, '--os', 'linux', '--architecture', 'amd64');
  umoci('config', '--image', ref, '--config.cmd', '/bin/sh', '--config.env', 'PATH=/bin');
  // A name the VCH can load it under (a bare ref.name is a tag without a repository).
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  for (const m of index.manifests)
    m.annotations = {
      ...m.annotations,
      'org.opencontainers.image.ref.name': `bench/busybox:${tag}`,
    };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  return layout;
}
