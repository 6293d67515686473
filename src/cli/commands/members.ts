/**
 * `distlab members`: each node's SWIM view of the cluster, as a matrix of
 * alive / suspect / dead (one snapshot of `distlab watch membership`).
 */
import { Option, type Command } from 'commander';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';
import { membershipView } from '../watch/membership-view.js';
import type { WatchView } from '../watch/view.js';
import { printSnapshot } from './watch.js';

export function register(program: Command): void {
  program
    .command('members')
    .description("show each node's SWIM view of every member: alive, suspect or dead")
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for each node').default(2000, '2s').argParser(durationOption(1)))
    .action(async (opts: { roster?: string; timeout: number }) => {
      await printSnapshot(membershipView as WatchView<unknown>, readRosterOption(opts.roster), opts.timeout);
    });
}
