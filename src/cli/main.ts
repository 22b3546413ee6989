#!/usr/bin/env node
// vic-kubelet: one command with subcommands. Bad input gets one line on stderr and status 2.
import { Command, CommanderError } from 'commander';
import { addIologCommand } from './iolog.js';
import { addNodeCommand } from './node.js';
import { addRunCommand } from './run.js';
import { addVchCommand } from './vch.js';
import { fail, UsageError } from './errors.js';

const program = new Command('vic-kubelet')
  .description('Kubernetes pods on a VIC-style Virtual Container Host, with VIC container-VM logs')
  .exitOverride()
  .configureOutput({
    outputError: (str, write) => write(str.trimEnd().replace(/^error: /, 'vic-kubelet: ') + '\n'),
  });

// Subcommands made with .command() inherit exitOverride and the output settings.
addIologCommand(program);
addNodeCommand(program);
addRunCommand(program);
addVchCommand(program);

// A reader of our output that goes away (`… | head`) ends us quietly, as it ends other tools.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    fail(err);
    process.exit();
  });
}
// The last guard of "one line, never a stack trace" (VIC_KUBELET_DEBUG=1 shows the stack).
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    if (process.env.VIC_KUBELET_DEBUG) process.stderr.write(`${e.stack}\n`);
    fail(e);
    process.exit();
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; everything commander rejects is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    fail(err instanceof UsageError ? err : (err as Error));
  }
}
