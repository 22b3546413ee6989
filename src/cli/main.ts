#!/usr/bin/env node
// vic-kubelet: one command with subcommands. Bad input gets one line on stderr and status 2.
import { Command, CommanderError } from 'commander';
import { addIologCommand } from './iolog.js';
import { fail, UsageError } from './errors.js';

const program = new Command('vic-kubelet')
  .description('Kubernetes pods on a VIC-style Virtual Container Host, with VIC container-VM logs')
  .exitOverride()
  .configureOutput({
    outputError: (str, write) => write(str.trimEnd().replace(/^error: /, 'vic-kubelet: ') + '\n'),
  });

// Subcommands made with .command() inherit exitOverride and the output settings.
addIologCommand(program);

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
