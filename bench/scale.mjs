// Scale benchmark on the real parts: a control plane of its own (scripts/cluster.sh), a local
// registry (Debian's docker-registry) with a busybox image, one `vic-kubelet node` with its
// embedded VCH and the VIC provider; N pods created through the apiserver at a steady rate,
// scheduled to the node, followed to Ready, then all deleted (bench/scale-run.mjs).
//
//   npm run bench:scale                       1000 pods at 20/s on runc
//   npm run bench:scale -- --pods 100 --rate 20 [--runtime vm] [--pod-memory 64Mi] [--cpu-prof] [--keep]
//
// Prints one table: pods Ready, create→Ready percentiles (as the pod-startup SLO measures them:
// creationTimestamp → the Ready condition's transition, whole seconds in the API; and as seen
// by this process's watch, in ms), time until all are Ready, the node process's (node +
// embedded VCH) memory and CPU, host memory per pod, deletion time, and the targets.
// --cpu-prof runs the node with Node's CPU profiler and prints its top functions; --keep keeps
// the work directory (the node's log, the profile). Not a test:
// nothing passes or fails. Root, runc, umoci, skopeo and docker-registry needed; can run
// unattended (timeouts are sized for 1000 pods).
/* global fetch */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScale, topFunctions } from './scale-run.mjs';

const { values: flags } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20' },
    runtime: { type: 'string', default: 'runc' },
    'pod-memory': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const pods = Number(flags.pods);
const rate = Number(flags.rate);
if (!(pods > 0) || !(rate > 0)) throw new Error('--pods and --rate want positive numbers');
if (!['runc', 'vm'].includes(flags.runtime)) throw new Error('--runtime wants runc or vm');

const repo = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'vic-bench-scale-'));
const clusterDir = join(work, 'cluster');
const sh = (cmd, args, o = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...o });
const nodeName = 'vk-bench-scale';
const log = (line) => console.error(`bench:scale: ${line}`);

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** docker-registry on a free loopback port, storage under the work directory. */
async function startRegistry() {
  const dir = join(work, 'registry');
  mkdirSync(dir);
  const host = `127.0.0.1:${await freePort()}`;
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n` +
      `http:\n  addr: ${host}\n  secret: vic-kubelet-bench\n`,
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (i > 150 || child.exitCode !== null) throw new Error('docker-registry did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop: () => child.kill('SIGTERM') };
}

/** A one-layer busybox image (every applet), pushed as HOST/busybox:scale. */
function pushBusybox(host) {
  const src = join(work, 'image-src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'tmp'), { recursive: true });
  copyFileSync('/bin/busybox', join(src, 'bin/busybox'));
  for (const a of sh('/bin/busybox', ['--list']).split('\n'))
    if (a && a !== 'busybox') symlinkSync('busybox', join(src, 'bin', a));
  const layout = join(work, 'oci');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:scale`]);
  sh('umoci', ['insert', '--image', `${layout}:scale`, src, '/']);
  sh('umoci', ['config', '--image', `${layout}:scale`, '--os', 'linux', '--architecture', 'amd64']);
  const image = `${host}/busybox:scale`;
  sh('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:scale`,
    `docker://${image}`,
  ]);
  return image;
}

/**
 * The node's credentials, as a kubelet has them: a client certificate for system:node:NAME
 * (the Node authorizer) and a serving certificate for 127.0.0.1, both from the cluster's CA.
 */
function nodeCredentials() {
  const dir = join(work, 'pki');
  mkdirSync(dir);
  const pki = join(clusterDir, 'pki');
  const ca = `-CA ${pki}/ca.crt -CAkey ${pki}/ca.key -CAcreateserial -CAserial ca.srl -days 2`;
  sh(
    'bash',
    [
      '-c',
      `set -e
      openssl ecparam -name prime256v1 -genkey -noout -out node.key
      openssl req -new -key node.key -subj "/O=system:nodes/CN=system:node:${nodeName}" -out node.csr
      openssl x509 -req -in node.csr ${ca} -extfile <(printf "extendedKeyUsage=clientAuth") -out node.crt
      openssl ecparam -name prime256v1 -genkey -noout -out serving.key
      openssl req -new -key serving.key -subj "/CN=${nodeName}" -out serving.csr
      openssl x509 -req -in serving.csr ${ca} -extfile <(printf "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth") -out serving.crt`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const b64 = (f) => readFileSync(join(dir, f)).toString('base64');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    readFileSync(join(clusterDir, 'kubeconfig'), 'utf8')
      .replace(/client-certificate-data: .*/, `client-certificate-data: ${b64('node.crt')}`)
      .replace(/client-key-data: .*/, `client-key-data: ${b64('node.key')}`),
  );
  return { kubeconfig, dir };
}

const mib = (b) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

let registry;
let result;
let profile = [];
const loadBefore = loadavg();
try {
  log('starting the control plane');
  sh('bash', [join(repo, 'scripts/cluster.sh'), 'up', clusterDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  registry = await startRegistry();
  const image = pushBusybox(registry.host);
  const creds = nodeCredentials();
  const port = await freePort();
  const profDir = flags['cpu-prof'] ? join(work, 'prof') : undefined;
  if (profDir) mkdirSync(profDir);
  // prettier-ignore
  const nodeArgs = [
    '--kubeconfig', creds.kubeconfig, '--node-name', nodeName, '--node-ip', '127.0.0.1',
    '--address', '127.0.0.1', '--port', String(port),
    '--tls-cert-file', join(creds.dir, 'serving.crt'), '--tls-private-key-file', join(creds.dir, 'serving.key'),
    '--client-ca-file', join(clusterDir, 'pki', 'ca.crt'),
  ];
  result = await runScale({
    kubeconfig: join(clusterDir, 'kubeconfig'),
    nodeName,
    nodeArgs,
    work,
    registryHost: registry.host,
    image,
    pods,
    rate,
    runtime: flags.runtime,
    podMemory: flags['pod-memory'],
    cpuProfDir: profDir,
    log,
  });
  if (profDir) profile = topFunctions(profDir);
} finally {
  registry?.stop();
  spawnSync('bash', [join(repo, 'scripts/cluster.sh'), 'down', clusterDir], { stdio: 'inherit' });
  if (flags.keep) log(`kept ${work} (node.log, prof/)`);
  else rmSync(work, { recursive: true, force: true });
}

const r = result;
console.log(
  `\nscale: ${r.pods} pods (${flags.runtime}) created at ${rate}/s through the apiserver, one node; ${cpus().length} cores, load ${loadBefore} before, ${loadavg()} after\n`,
);
console.log('| figure | value | target |');
console.log('|---|---|---|');
const rows = [
  ['pods Ready / created', `${r.ready} / ${r.pods - r.createErrors}`, `all ${r.pods}`],
  ['creates issued in', sec(r.createdInMs), ''],
  [
    'create→Ready p50 / p90 / p99 (API timestamps, 1 s resolution)',
    `${sec(r.apiMs.p50)} / ${sec(r.apiMs.p90)} / ${sec(r.apiMs.p99)}`,
    'p50 < 1 s, p99 < 5 s',
  ],
  [
    'create→Ready p50 / p90 / p99 (watched)',
    `${sec(r.watchedMs.p50)} / ${sec(r.watchedMs.p90)} / ${sec(r.watchedMs.p99)}`,
    'p50 < 1 s, p99 < 5 s',
  ],
  ['first create → all Ready', sec(r.allReadyMs), ''],
  [
    'node + VCH (+ spawn helper) RSS: idle / all Ready / peak',
    `${mib(r.node.idleRss)} / ${mib(r.node.rssAtAllReady)} / ${mib(r.node.peakRss)}`,
    '< 400 MiB at 1000 pods',
  ],
  ['of which the spawn helper (private memory), at the end', mib(r.node.helperRss ?? 0), ''],
  [
    'node + VCH (+ spawn helper) CPU (create, run, delete)',
    `${r.node.cpuSeconds.toFixed(1)} s`,
    '',
  ],
  ['their reaped children (runc CLI, CNI) CPU', `${r.node.childCpuSeconds.toFixed(1)} s`, ''],
  [
    `host memory per pod: cgroups (${r.memoryPerPod.cgroups}) / PSS`,
    `${mib(r.memoryPerPod.cgroup)} / ${mib(r.memoryPerPod.pss)}`,
    '< 2 MiB beyond the workload',
  ],
  ...(r.vms
    ? [
        [
          `pod VMs (${r.vms.count}): qemu RSS / guest RAM given / of it resident (mean)`,
          `${mib(r.vms.rss)} / ${mib(r.vms.guest)} / ${mib(r.vms.guestResident)}`,
          '',
        ],
        [
          'qemu RSS beyond the resident guest RAM, per VM: median / max',
          `${mib(r.vms.beyondGuest)} / ${mib(r.vms.maxBeyondGuest)}`,
          '< 40 MiB',
        ],
        [
          'the same as PSS (shared pages divided among the VMs) / private, per VM: median',
          `${mib(r.vms.pssBeyondGuest)} / ${mib(r.vms.privateBeyondGuest)}`,
          '',
        ],
        [
          `pod VM boot (launch → agent's hello) under concurrent boots: median / max`,
          r.vms.bootMs ? `${sec(r.vms.bootMs.p50)} / ${sec(r.vms.bootMs.max)}` : 'n/a',
          '',
        ],
      ]
    : []),
  ['delete → all pods gone from the API', sec(r.deletedInMs), ''],
  ["delete → all the VCH's containers gone", sec(r.containersGoneInMs), ''],
  ['leaked containers (runc / persona)', `${r.leaked.runc} / ${r.leaked.persona}`, '0 / 0'],
];
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
if (profile.length > 0) {
  console.log('\nnode process CPU profile, self time (top functions):\n');
  console.log('| ms | share | function |');
  console.log('|---|---|---|');
  for (const p of profile)
    console.log(`| ${p.ms.toFixed(0)} | ${(p.share * 100).toFixed(1)} % | ${p.fn} |`);
}
process.exit(0);
