// `vic-kubelet vch serve`: run a Virtual Container Host with its Docker API (the persona). The
// daemon (src/vch/serve.ts, with the database and the runtime) is loaded only when it runs.
import type { Command } from 'commander';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addVchCommand(program: Command): void {
  const vch = program.command('vch').description('the Virtual Container Host');
  vch
    .command('serve')
    .description('run the VCH: its state, containers and the Docker Engine API on a unix socket')
    .requiredOption('--state-dir <dir>', 'where images, containers, logs and the database live')
    .requiredOption('--docker-host <unix:///path>', 'unix socket to serve the Docker API on')
    .option(
      '--docker-tcp <host:port>',
      'also serve the Docker API on this TCP address (loopback, or any with --tlsverify)',
    )
    .option(
      '--tlsverify',
      "serve --docker-tcp over TLS, clients needing a certificate of --tlscacert's (dockerd's flag)",
    )
    .option('--tlscacert <file>', "the CA clients' certificates must be signed by")
    .option('--tlscert <file>', "the server's certificate")
    .option('--tlskey <file>', "the server's key")
    .option('--tls', "dockerd's TLS without client certificates: refused (use --tlsverify)")
    .option(
      '--insecure-registry <host:port>',
      'registry spoken to over plain HTTP (repeatable; loopback ones always are)',
      collect,
      [],
    )
    .option('--runc <path>', 'the runc binary (default: runc on PATH)')
    .option('--tether <path>', "the containers' init (default: the project's build)")
    .option(
      '--runtime <runc|vm|auto>',
      "pods' default isolation: runc sandboxes, qemu pod VMs, or auto (vm where KVM works); a pod may ask with the label vic-kubelet.io/runtime",
      'auto',
    )
    .option(
      '--bridge-network <cidr|none>',
      "the VCH's bridge network for pods' addresses (default: the last one used, else the first of 10.88.0.0/16, 10.89.0.0/16, … that overlaps no route of the host); none: loopback only",
    )
    .option(
      '--max-layer-expansion <ratio>',
      'how many times a compressed layer may expand as it unpacks (past 256 MiB) before it is refused as a decompression bomb (default 100; raise it for images with huge zero-filled files; 0: no limit)',
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
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (o: import('../vch/serve.js').ServeOptions) => {
      const { serveVch } = await import('../vch/serve.js');
      await serveVch(o);
    });
}
