/**
 * `distlab leader`: who leads according to each node (the handout's `GET /`
 * fields `leader_id`, `is_leader`, `election_in_progress`). Exit 1 when the
 * nodes that answered do not agree on one leader, or none answered.
 */
import { Option, type Command } from 'commander';
import { OperationFailed } from '../errors.js';
import { callNode, cliAgent, unreachableReason } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';
import { formatTable } from '../table.js';

export interface LeaderRow {
  node: string;
  reachable: boolean;
  leader?: string | null;
  is_leader?: boolean;
  election_in_progress?: boolean;
  detail?: string;
}

/** The leader all reachable nodes agree on, or undefined. */
export function agreement(rows: readonly LeaderRow[]): string | undefined {
  const live = rows.filter((r) => r.reachable);
  const leaders = new Set(live.map((r) => r.leader ?? null));
  if (live.length === 0 || leaders.size !== 1) return undefined;
  return [...leaders][0] ?? undefined;
}

export function formatLeaders(rows: readonly LeaderRow[]): string {
  const table = formatTable(
    ['node', 'leader', 'is_leader', 'election_in_progress', 'reachable'],
    rows.map((r) =>
      r.reachable
        ? [r.node, r.leader ?? '-', String(r.is_leader), String(r.election_in_progress), 'yes']
        : [r.node, '-', '-', '-', `no (${r.detail ?? '?'})`],
    ),
  );
  const leader = agreement(rows);
  return `${table}\n${leader !== undefined ? `every reachable node follows ${leader}` : 'the reachable nodes do not agree on a leader'}\n`;
}

export function register(program: Command): void {
  program
    .command('leader')
    .description('show who leads according to each node; exit 1 if the reachable nodes disagree')
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for each node').default(2000, '2s').argParser(durationOption(1)))
    .action(async (opts: { roster?: string; timeout: number }) => {
      const roster = readRosterOption(opts.roster);
      const agent = cliAgent();
      try {
        const rows = await Promise.all(
          roster.map(async (node): Promise<LeaderRow> => {
            try {
              const { status, body } = await callNode(agent, `${node.url}/`, { timeoutMs: opts.timeout });
              if (status !== 200) return { node: node.id, reachable: false, detail: `HTTP ${status}` };
              const leader = body.leader_id === null || body.leader_id === undefined ? null : String(body.leader_id);
              return { node: node.id, reachable: true, leader, is_leader: body.is_leader === true, election_in_progress: body.election_in_progress === true };
            } catch (err) {
              return { node: node.id, reachable: false, detail: unreachableReason(err, opts.timeout) };
            }
          }),
        );
        process.stdout.write(formatLeaders(rows));
        if (agreement(rows) === undefined) throw new OperationFailed('the reachable nodes do not agree on a leader');
      } finally {
        await agent.close();
      }
    });
}
