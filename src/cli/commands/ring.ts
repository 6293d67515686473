/**
 * `distlab ring send [TOKEN] [--from ID]`: passes a token round the ring,
 * starting at one node, and prints the path it took, the nodes it skipped
 * and the round-trip time.
 */
import { Option, type Command } from 'commander';
import { OperationFailed } from '../errors.js';
import { callNode, cliAgent, describeFailure, pickNode, unreachableReason } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';

interface RingSendOptions {
  from?: string;
  roster?: string;
  timeout: number;
}

export function register(program: Command): void {
  const ring = program.command('ring').description('the token ring (handout 000)');
  ring
    .command('send')
    .description('pass a token round the ring and print the path it took, the skipped nodes and the round-trip time')
    .argument('[token]', 'the token text (default: ring-token-<n>)')
    .addOption(new Option('--from <id>', 'node that starts the round (default: the first in the roster)'))
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for the token to come back').default(20_000, '20s').argParser(durationOption(1)))
    .action(async (token: string | undefined, opts: RingSendOptions) => {
      const roster = readRosterOption(opts.roster);
      const origin = pickNode(roster, opts.from);
      const agent = cliAgent();
      try {
        const answer = await callNode(agent, `${origin.url}/ring/start`, { json: token === undefined ? {} : { token }, timeoutMs: opts.timeout }).catch((err: unknown) => {
          throw new OperationFailed(`node ${origin.id} (${origin.url}) did not answer: ${unreachableReason(err, opts.timeout)}`);
        });
        if (answer.status !== 200) throw new OperationFailed(`the round from node ${origin.id} failed: ${describeFailure(answer)}`);
        process.stdout.write(formatRound(answer.body));
      } finally {
        await agent.close();
      }
    });
}

/** The lines `ring send` prints for a completed round. */
export function formatRound(round: Record<string, unknown>): string {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const skipped = list(round.skipped);
  return [
    `token    ${String(round.token)}`,
    `path     ${list(round.path).join(' → ')}`,
    `skipped  ${skipped.length > 0 ? skipped.join(', ') : 'none'}`,
    `round trip ${Number(round.rtt_ms).toFixed(1)} ms`,
    '',
  ].join('\n');
}
