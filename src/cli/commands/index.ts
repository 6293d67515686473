/**
 * Every `distlab` subcommand registers itself here: one module per command
 * (or command group), each exporting a `register(program)` function.
 * Listed in the order `distlab --help` shows them.
 */
import type { Command } from 'commander';
import * as broadcast from './broadcast.js';
import * as capstone from './capstone.js';
import * as chaos from './chaos.js';
import * as check from './check.js';
import * as gossip from './gossip.js';
import * as kv from './kv.js';
import * as leader from './leader.js';
import * as load from './load.js';
import * as node from './node.js';
import * as members from './members.js';
import * as ping from './ping.js';
import * as ring from './ring.js';
import * as shard from './shard.js';
import * as sim from './sim.js';
import * as up from './up.js';
import * as watch from './watch.js';

export const commandModules: Array<{ register(program: Command): void }> = [
  node,
  up,
  ping,
  load,
  sim,
  check,
  shard,
  ring,
  broadcast,
  leader,
  gossip,
  members,
  watch,
  kv,
  chaos,
  capstone,
];
