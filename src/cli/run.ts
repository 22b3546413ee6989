// `vic-kubelet run POD.yaml`: one pod, no cluster — on the embedded VCH of a state directory,
// with its containers' output on our standard output and error, until it ends. The work
// (run-pod.ts, with the VCH and the provider) is loaded only when the command runs.
import type { Command } from 'commander';
import type { RunOptions } from './run-pod.js';

export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run one pod on the embedded VCH without a cluster: its output, then its exit code',
    )
    .argument('<pod.yaml>', 'the pod manifest (YAML or JSON, kind Pod)')
    .option(
      '--state-dir <dir>',
      'state of the embedded VCH (default: $XDG_STATE_HOME/vic-kubelet or ~/.local/state/vic-kubelet)',
    )
    .option(
      '--insecure-registry <host:port>',
      'registry spoken to over plain HTTP (repeatable; loopback ones always are)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--load <archive>',
      'load images from an OCI layout (directory or tar) or a docker save archive first (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--runtime <runc|vm|auto>',
      "pods' default isolation in the embedded VCH: runc sandboxes, qemu pod VMs, or auto (vm where KVM works)",
      'auto',
    )
    .option(
      '--bridge-network <cidr|none>',
      "the VCH's bridge network for pods' addresses (default: the last one used, else the first of 10.88.0.0/16, 10.89.0.0/16, … that overlaps no route of the host); none: loopback only",
    )
    .option(
      '--container-log-max-size <size>',
      "a container's log file is rotated before it grows past this (the kubelet's flag; e.g. 10Mi, 512Ki)",
      '10Mi',
    )
    .option(
      '--container-log-max-files <n>',
      "log files kept per container, the current one included (the kubelet's flag)",
      '5',
    )
    .option('--log-level <level>', "the VCH's log on stderr: debug, info, warn or error", 'error')
    .action(async (file: string, o: RunOptions) => {
      const { runPodCommand } = await import('./run-pod.js');
      process.exitCode = await runPodCommand(file, o);
    });
}
