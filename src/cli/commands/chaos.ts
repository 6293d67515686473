/**
 * `distlab chaos`: break a running cluster on purpose.
 *
 * - `chaos kill [--every 10s] [--restart-after 3s] [--count N]` — the
 *   handouts' kill script: SIGKILL a random node of the cluster `distlab up`
 *   runs, on a schedule, and restart it (through up's control API,
 *   cluster-control.ts). Ctrl+C stops the schedule and restarts a node it
 *   has down.
 * - `chaos partition 1,2/3,4,5` — each side stops hearing the other:
 *   every node gets the other side in its `blockTo` and `blockFrom`.
 * - `chaos delay --ms 200 [--jitter 50]`, `chaos drop --p 0.1` — on every node.
 * - `chaos heal` — no faults anywhere.
 *
 * The network faults go to each node's `/admin/faults` (the transport's
 * fault injection, src/live/faults.ts); they act on node-to-node traffic.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import type { RosterEntry } from '../../live/roster.js';
import { startKiller } from '../chaos/killer.js';
import { ClusterControl } from '../cluster-control.js';
import { OperationFailed, UsageError } from '../errors.js';
import { callNode, cliAgent, describeFailure, unreachableReason } from '../node-http.js';
import { durationOption, floatOption, intOption } from '../options.js';
import { DEFAULT_ROSTER_PATH, readRosterOption, rosterOption } from '../roster-option.js';

const TIMEOUT_MS = 3000;


export function register(program: Command): void {
  const chaos = program.command('chaos').description('inject failures into a running cluster: kill nodes, partition, delay, drop');

  chaos
    .command('kill')
    .description('SIGKILL a random node on a schedule and restart it (needs the cluster of `distlab up`)')
    .addOption(new Option('--every <time>', 'time between kills').default(10_000, '10s').argParser(durationOption(100)))
    .addOption(new Option('--restart-after <time>', 'restart the killed node after this long').default(3000, '3s').argParser(durationOption()))
    .addOption(new Option('--count <n>', 'stop after this many kills (default: until Ctrl+C)').argParser(intOption(1)))
    .addOption(rosterOption())
    .action(async (opts: { every: number; restartAfter: number; count?: number; roster?: string }) => {
      const control = ClusterControl.open(resolve(opts.roster ?? DEFAULT_ROSTER_PATH));
      const nodes = await control.nodes();
      process.stdout.write(`chaos: killing one of ${nodes.length} nodes every ${opts.every / 1000}s, restarting it after ${opts.restartAfter / 1000}s${opts.count ? `, ${opts.count} time(s)` : ' (Ctrl+C stops)'}\n`);
      let errors = 0;
      const killer = startKiller(control, {
        everyMs: opts.every,
        restartAfterMs: opts.restartAfter,
        ...(opts.count === undefined ? {} : { count: opts.count }),
        onEvent: (e) => {
          const time = new Date().toISOString().slice(11, 19);
          if (e.type === 'killed') process.stdout.write(`${time} 💥 killed node ${e.id}\n`);
          else if (e.type === 'restarted') process.stdout.write(`${time} ♻️  restarted node ${e.id} (down ${(e.downMs / 1000).toFixed(1)}s)\n`);
          else {
            errors += 1;
            process.stderr.write(`${time} chaos: ${e.message}\n`);
          }
        },
      });
      const stop = () => void killer.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await killer.done;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.write(`chaos: ${killer.kills} kill(s)\n`);
      if (errors > 0) throw new OperationFailed(`${errors} kill/restart step(s) failed`);
    });

  chaos
    .command('partition')
    .description('split the cluster: e.g. 1,2/3,4,5 (nodes left out keep talking to everyone)')
    .argument('<sides>', 'groups of node ids separated by /')
    .addOption(rosterOption())
    .action(async (sides: string, opts: { roster?: string }) => {
      const roster = readRosterOption(opts.roster);
      const groups = parsePartition(sides, roster);
      const patches = new Map<string, { blockTo: string[]; blockFrom: string[] }>();
      for (const group of groups) {
        const others = groups.filter((g) => g !== group).flat();
        for (const id of group) patches.set(id, { blockTo: others, blockFrom: others });
      }
      await applyFaults(roster, (id) => patches.get(id) ?? { blockTo: [], blockFrom: [] });
      process.stdout.write(`partitioned: ${groups.map((g) => `{${g.join(',')}}`).join(' | ')}\n`);
    });

  chaos
    .command('heal')
    .description('remove every fault (partitions, delay, drop) from every node')
    .addOption(rosterOption())
    .action(async (opts: { roster?: string }) => {
      const roster = readRosterOption(opts.roster);
      await applyFaults(roster, () => ({ drop: 0, delayMs: 0, jitterMs: 0, blockTo: [], blockFrom: [] }));
      process.stdout.write(`healed ${roster.length} node(s)\n`);
    });

  chaos
    .command('delay')
    .description('delay every message between nodes')
    .requiredOption('--ms <n>', 'milliseconds added to each message', floatOption(0, 60_000))
    .addOption(new Option('--jitter <ms>', 'up to this many milliseconds more, at random').default(0).argParser(floatOption(0, 60_000)))
    .addOption(rosterOption())
    .action(async (opts: { ms: number; jitter: number; roster?: string }) => {
      const roster = readRosterOption(opts.roster);
      await applyFaults(roster, () => ({ delayMs: opts.ms, jitterMs: opts.jitter }));
      process.stdout.write(`delay ${opts.ms} ms${opts.jitter ? ` + up to ${opts.jitter} ms jitter` : ''} on ${roster.length} node(s)\n`);
    });

  chaos
    .command('drop')
    .description('lose a fraction of the messages between nodes')
    .requiredOption('--p <probability>', 'probability that a message is lost, 0 to 1', floatOption(0, 1))
    .addOption(rosterOption())
    .action(async (opts: { p: number; roster?: string }) => {
      const roster = readRosterOption(opts.roster);
      await applyFaults(roster, () => ({ drop: opts.p }));
      process.stdout.write(`drop ${opts.p} of messages on ${roster.length} node(s)\n`);
    });
}

/** `1,2/3,4` → [['1','2'],['3','4']]; every id must be in the roster, once. */
export function parsePartition(spec: string, roster: readonly RosterEntry[]): string[][] {
  const groups = spec.split('/').map((side) => side.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  if (groups.length < 2 || groups.some((g) => g.length === 0)) throw new UsageError(`expected two or more groups of node ids like 1,2/3,4,5, got '${spec}'`);
  const ids = new Set(roster.map((n) => n.id));
  const seen = new Set<string>();
  for (const id of groups.flat()) {
    if (!ids.has(id)) throw new UsageError(`node ${id} is not in the roster (its ids: ${[...ids].join(', ')})`);
    if (seen.has(id)) throw new UsageError(`node ${id} is on two sides of the partition`);
    seen.add(id);
  }
  return groups;
}

/** POSTs each node's fault patch to its /admin/faults; fails (exit 1) naming the nodes that did not take it. */
async function applyFaults(roster: readonly RosterEntry[], patchFor: (id: string) => Record<string, unknown>): Promise<void> {
  const agent = cliAgent();
  try {
    const results = await Promise.all(
      roster.map(async (node) => {
        try {
          const answer = await callNode(agent, `${node.url}/admin/faults`, { json: patchFor(node.id), timeoutMs: TIMEOUT_MS });
          return answer.status === 200 ? undefined : `node ${node.id}: ${describeFailure(answer)}`;
        } catch (err) {
          return `node ${node.id} (${node.url}): ${unreachableReason(err, TIMEOUT_MS)}`;
        }
      }),
    );
    const failed = results.filter((r): r is string => r !== undefined);
    if (failed.length > 0) throw new OperationFailed(`could not change the faults of ${failed.length} node(s): ${failed.join('; ')}`);
  } finally {
    await agent.close();
  }
}
