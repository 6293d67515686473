/**
 * Every `distlab` subcommand registers itself here: one module per command
 * (or command group), each exporting a `register(program)` function, listed
 * under the top-level command name it registers, in the order
 * `distlab --help` shows them.
 *
 * Modules are imported only when needed: `distlab node` loads just the node
 * module, so a node process does not carry the simulator, the checkers or
 * the load generator in its memory (see src/cli/main.ts).
 */
import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

export const commandModules: ReadonlyArray<{ name: string; load(): Promise<CommandModule> }> = [
  { name: 'node', load: () => import('./node.js') },
  { name: 'up', load: () => import('./up.js') },
  { name: 'ping', load: () => import('./ping.js') },
  { name: 'load', load: () => import('./load.js') },
  { name: 'sim', load: () => import('./sim.js') },
  { name: 'check', load: () => import('./check.js') },
  { name: 'shard', load: () => import('./shard.js') },
  { name: 'ring', load: () => import('./ring.js') },
  { name: 'broadcast', load: () => import('./broadcast.js') },
  { name: 'leader', load: () => import('./leader.js') },
  { name: 'gossip', load: () => import('./gossip.js') },
  { name: 'members', load: () => import('./members.js') },
  { name: 'watch', load: () => import('./watch.js') },
  { name: 'kv', load: () => import('./kv.js') },
  { name: 'chaos', load: () => import('./chaos.js') },
  { name: 'capstone', load: () => import('./capstone.js') },
];
