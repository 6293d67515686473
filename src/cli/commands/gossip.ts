/**
 * `distlab gossip update [--node ID]`: bumps a node's own version (the
 * handout's `curl -X POST .../update`), so its news can be watched spreading
 * with `distlab watch gossip`.
 */
import { Option, type Command } from 'commander';
import { OperationFailed } from '../errors.js';
import { callNode, cliAgent, describeFailure, pickNode, unreachableReason } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';

interface GossipUpdateOptions {
  node?: string;
  roster?: string;
  timeout: number;
}

export function register(program: Command): void {
  const gossip = program.command('gossip').description('the gossip version map (handout Module 07)');
  gossip
    .command('update')
    .description("bump a node's own version; gossip spreads it to every node")
    .addOption(new Option('--node <id>', 'node to update (default: the first in the roster)'))
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for the node').default(5000, '5s').argParser(durationOption(1)))
    .action(async (opts: GossipUpdateOptions) => {
      const roster = readRosterOption(opts.roster);
      const target = pickNode(roster, opts.node);
      const agent = cliAgent();
      try {
        const answer = await callNode(agent, `${target.url}/update`, { post: true, timeoutMs: opts.timeout }).catch((err: unknown) => {
          throw new OperationFailed(`node ${target.id} (${target.url}) did not answer: ${unreachableReason(err, opts.timeout)}`);
        });
        if (answer.status !== 200) throw new OperationFailed(`node ${target.id} refused the update: ${describeFailure(answer)}`);
        process.stdout.write(`node ${target.id} is now at version ${String(answer.body.version)}\n`);
      } finally {
        await agent.close();
      }
    });
}
