/**
 * Every `distlab` subcommand registers itself here: one module per command
 * (or command group), each exporting a `register(program)` function.
 * Listed in the order `distlab --help` shows them.
 */
import type { Command } from 'commander';
import * as check from './check.js';
import * as load from './load.js';
import * as node from './node.js';
import * as ping from './ping.js';
import * as shard from './shard.js';
import * as sim from './sim.js';
import * as up from './up.js';

export const commandModules: Array<{ register(program: Command): void }> = [
  node,
  up,
  ping,
  load,
  sim,
  check,
  shard,
];
