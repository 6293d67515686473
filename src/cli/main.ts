#!/usr/bin/env node
/**
 * The distlab command line. Subcommands live in ./commands; this file only
 * wires them up and maps failures to exit codes (see ./errors.ts).
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { commandModules } from './commands/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, OperationFailed, UsageError } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The program with the commands `argv` needs: only the named command's
 * module when argv names one (a node process then loads no more than a node
 * needs), every module otherwise (help, an unknown command).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('distlab')
    .description('a distributed-systems lab you can run, break and watch')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const name = argv.find((arg) => !arg.startsWith('-'));
  const named = commandModules.filter((m) => m.name === name);
  const modules = await Promise.all((named.length > 0 ? named : commandModules).map((m) => m.load()));
  for (const mod of modules) mod.register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version print and exit 0; everything else commander rejects is bad usage,
      // including a command group run without its sub-command (commander then prints the
      // group's help to stderr with a non-zero exitCode, where --help or `help kv` have 0)
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`distlab: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof OperationFailed) {
      process.stderr.write(`distlab: ${err.message}\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(`distlab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_FAILED;
  }
}

const code = await main(process.argv.slice(2));
// Commands that keep running (a node, a cluster) resolve only when they are done.
process.exitCode = code;
