/**
 * `distlab broadcast MSG [--from ID] [--structured]`: one node sends a
 * message to every other node (one-to-all) — or, with `--structured`, passes
 * it along the ring until it comes back with the list of nodes that saw it —
 * and prints who got it and how long it took.
 */
import { Option, type Command } from 'commander';
import { OperationFailed } from '../errors.js';
import { callNode, cliAgent, describeFailure, pickNode, unreachableReason } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';

interface BroadcastOptions {
  from?: string;
  structured?: boolean;
  roster?: string;
  timeout: number;
}

export function register(program: Command): void {
  program
    .command('broadcast')
    .description('send a message to every node and show who got it (one-to-all, or --structured along the ring)')
    .argument('<message>', 'the message text')
    .addOption(new Option('--from <id>', 'node that sends it (default: the first in the roster)'))
    .addOption(new Option('--structured', 'pass it along the ring and collect the visited list'))
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for the answer').default(20_000, '20s').argParser(durationOption(1)))
    .action(async (message: string, opts: BroadcastOptions) => {
      const roster = readRosterOption(opts.roster);
      const sender = pickNode(roster, opts.from);
      const mode = opts.structured ? 'structured' : 'all';
      const agent = cliAgent();
      try {
        const answer = await callNode(agent, `${sender.url}/broadcast`, { json: { message, mode }, timeoutMs: opts.timeout }).catch((err: unknown) => {
          throw new OperationFailed(`node ${sender.id} (${sender.url}) did not answer: ${unreachableReason(err, opts.timeout)}`);
        });
        if (answer.status !== 200) throw new OperationFailed(`the broadcast from node ${sender.id} failed: ${describeFailure(answer)}`);
        process.stdout.write(formatBroadcast(answer.body));
        const missing = Array.isArray(answer.body.missing) ? answer.body.missing.length : Array.isArray(answer.body.skipped) ? answer.body.skipped.length : 0;
        if (missing > 0) throw new OperationFailed(`${missing} node(s) did not get the message`);
      } finally {
        await agent.close();
      }
    });
}

/** The lines `broadcast` prints. */
export function formatBroadcast(result: Record<string, unknown>): string {
  const list = (v: unknown): string => (Array.isArray(v) && v.length > 0 ? v.map(String).join(', ') : 'none');
  const lines = [`sender   ${String(result.node_id)}`];
  if (result.mode === 'structured') {
    lines.push(`visited  ${Array.isArray(result.path) ? result.path.map(String).join(' → ') : '?'}`, `skipped  ${list(result.skipped)}`);
  } else {
    lines.push(`acked    ${list(result.acked)}`, `missing  ${list(result.missing)}`);
  }
  lines.push(`time     ${Number(result.rtt_ms).toFixed(1)} ms`, '');
  return lines.join('\n');
}
