// `vic-kubelet node`: run the virtual kubelet — register the node, run its pods on a VCH
// (embedded, with its state in --state-dir, or remote with --vch), serve the kubelet API —
// until SIGTERM or SIGINT. Flags are kubelet's where
// kubelet has one. The daemon itself (node-run.ts, with the Kubernetes client) is loaded only
// when this command runs, so that the other commands start in a fraction of the time.
import type { Command } from 'commander';
import { DEFAULT_TAINT } from '../node/taints.js';
import type { NodeOptions } from './node-run.js';

export function addNodeCommand(program: Command): void {
  program
    .command('node')
    .description('run a virtual kubelet: register the node, run its pods, serve the kubelet API')
    .requiredOption('--kubeconfig <file>', 'kubeconfig to reach the apiserver with')
    .requiredOption('--node-name <name>', 'name of the Node to register')
    .requiredOption(
      '--node-ip <ip>',
      "the node's InternalIP (the apiserver reaches the kubelet API there)",
    )
    .option('--address <ip>', 'address the kubelet API listens on', '0.0.0.0')
    .option('--port <port>', 'port of the kubelet API', '10250')
    .option('--tls-cert-file <file>', 'PEM serving certificate of the kubelet API')
    .option('--tls-private-key-file <file>', 'PEM key of the serving certificate')
    .option(
      '--client-ca-file <file>',
      "CA bundle that signs client certificates to accept (the apiserver's)",
    )
    .option('--kube-api-qps <n>', 'requests per second to the apiserver', '100')
    .option('--kube-api-burst <n>', 'requests at once above the rate', '200')
    .option(
      '--register-with-taints <taints>',
      'taints of the node, key=value:Effect,… ("" for none)',
      `${DEFAULT_TAINT.key}=${DEFAULT_TAINT.value}:${DEFAULT_TAINT.effect}`,
    )
    .option('--state-dir <dir>', 'state of the embedded VCH: images, containers, logs, database')
    .option(
      '--vch <url>',
      'drive a remote VCH instead: its API at unix:///path.sock or http://HOST:PORT',
    )
    .option(
      '--insecure-registry <host:port>',
      'registry the embedded VCH speaks plain HTTP to (repeatable; loopback ones always are)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--runtime <runc|vm|auto>',
      "pods' default isolation in the embedded VCH: runc sandboxes, qemu pod VMs, or auto (vm where KVM works; the default)",
    )
    .option(
      '--seccomp-profile-root <dir>',
      "where pods' Localhost seccomp profiles are (the kubelet's flag)",
      '/var/lib/kubelet/seccomp',
    )
    .option(
      '--allowed-unsafe-sysctls <list>',
      "sysctls pods may set beyond the safe set: names or prefixes with *, comma-separated (the kubelet's flag)",
    )
    .option(
      '--max-layer-expansion <ratio>',
      "the embedded VCH's limit on how many times a compressed layer may expand as it unpacks (default 100; raise it for images with huge zero-filled files; 0: no limit)",
    )
    .option(
      '--allow-privileged',
      "run containers with securityContext.privileged: true (runc pods; all capabilities, no seccomp, the host's devices); refused without it",
    )
    .option(
      '--allow-host-namespaces',
      "run pods with hostNetwork, hostPID or hostIPC (runc pods): they share the node's namespaces; refused without it",
    )
    .option(
      '--cluster-dns <ips>',
      "the cluster DNS Service's IPs, comma-separated, for ClusterFirst pods (the kubelet's flag); without it they get the node's resolv.conf",
    )
    .option(
      '--cluster-domain <domain>',
      "the cluster's DNS domain (the kubelet's flag)",
      'cluster.local',
    )
    .option(
      '--resolv-conf <file>',
      "the resolv.conf Default pods get (the kubelet's flag); '' for none",
      '/etc/resolv.conf',
    )
    .option(
      '--max-pods <n>',
      "pods the embedded VCH takes (the Node's pods capacity; the kubelet's flag)",
    )
    .option(
      '--bridge-network <cidr|none>',
      "the VCH's bridge network for pods' addresses (default: the last one used, else the first of 10.88.0.0/16, 10.89.0.0/16, … that overlaps no route of the host); none: loopback only",
    )
    .option(
      '--provider-module <file>',
      'instead of the VIC provider: an ES module exporting createProvider() (tests)',
    )
    .option(
      '--container-log-max-size <size>',
      "a container's log file is rotated before it grows past this (the kubelet's flag, default 10Mi; e.g. 10Mi, 512Ki)",
    )
    .option(
      '--container-log-max-files <n>',
      "log files kept per container, the current one included (the kubelet's flag, default 5)",
    )
    .option(
      '--node-status-update-frequency <duration>',
      'how often the node status is written (the kubelet flag; 10s, 1m)',
      '1m',
    )
    .option(
      '--eviction-hard <thresholds>',
      'hard eviction thresholds, as the kubelet flag (signals memory.available, nodefs.available, imagefs.available, pid.available); empty: none',
      'memory.available<100Mi,nodefs.available<10%,imagefs.available<15%',
    )
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (o: NodeOptions) => {
      const { runNode } = await import('./node-run.js');
      await runNode(o);
    });
}
