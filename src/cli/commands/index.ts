/**
 * Every `distlab` subcommand registers itself here: one module per command
 * (or command group), each exporting a `register(program)` function.
 */
import type { Command } from 'commander';
import * as shard from './shard.js';

export const commandModules: Array<{ register(program: Command): void }> = [shard];
