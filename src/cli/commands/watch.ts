/**
 * `distlab watch ring|gossip|election|membership`: live terminal views of a
 * cluster, like the handouts' visualizers, fed by the nodes' event streams.
 * `--once` prints one snapshot and exits.
 */
import { Argument, Option, type Command } from 'commander';
import type { RosterEntry } from '../../live/roster.js';
import { OperationFailed } from '../errors.js';
import { cliAgent } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';
import { electionView } from '../watch/election-view.js';
import { gossipView } from '../watch/gossip-view.js';
import { membershipView } from '../watch/membership-view.js';
import { ringView } from '../watch/ring-view.js';
import { snapshotAll, watchLive } from '../watch/runner.js';
import type { WatchView } from '../watch/view.js';

export const WATCH_VIEWS = { ring: ringView, gossip: gossipView, election: electionView, membership: membershipView } as const;
export type WatchName = keyof typeof WATCH_VIEWS;

interface WatchOptions {
  roster?: string;
  once?: boolean;
  timeout: number;
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('live view of a cluster: the ring, gossip versions, leader election or SWIM membership')
    .addArgument(new Argument('<view>', 'what to watch').choices(Object.keys(WATCH_VIEWS)))
    .addOption(rosterOption())
    .addOption(new Option('--once', 'print one snapshot and exit'))
    .addOption(new Option('--timeout <duration>', 'how long to wait for each node').default(2000, '2s').argParser(durationOption(1)))
    .action(async (name: WatchName, opts: WatchOptions) => {
      const roster = readRosterOption(opts.roster);
      const view = WATCH_VIEWS[name] as WatchView<unknown>;
      if (opts.once) await printSnapshot(view, roster, opts.timeout);
      else await watchUntilInterrupted(view, roster, opts.timeout);
    });
}

/** Prints one frame of `view`; exit 1 when no node answered. */
export async function printSnapshot(view: WatchView<unknown>, roster: readonly RosterEntry[], timeoutMs: number): Promise<void> {
  const agent = cliAgent();
  try {
    const { state, reach } = await snapshotAll(view, roster, agent, timeoutMs, Date.now);
    process.stdout.write(`${view.render(state, reach, { color: process.stdout.isTTY === true, now: Date.now() })}\n`);
    if (!Object.values(reach).some((r) => r.state === 'up')) throw new OperationFailed('no node answered');
  } finally {
    await agent.close();
  }
}

async function watchUntilInterrupted(view: WatchView<unknown>, roster: readonly RosterEntry[], timeoutMs: number): Promise<void> {
  const agent = cliAgent();
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await watchLive(view, roster, { agent, timeoutMs, out: process.stdout, color: process.stdout.isTTY === true, signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await agent.close();
  }
}
