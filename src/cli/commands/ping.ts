/**
 * `distlab ping`: the handout's "call each other" step. Calls every node of
 * the roster (`/ping`, then `GET /`) and prints who answered, how fast, and
 * each node's team and counter. Exit code 1 when a node did not answer.
 */
import { Option, type Command } from 'commander';
import { OperationFailed } from '../errors.js';
import { callNode, cliAgent, unreachableReason } from '../node-http.js';
import { durationOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';
import { formatTable } from '../table.js';

interface PingOptions {
  roster?: string;
  timeout: number;
}

export function register(program: Command): void {
  program
    .command('ping')
    .description("call every node's /ping and GET / and show who answered (default roster: the one 'distlab up' wrote)")
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'how long to wait for each node').default(2000, '2s').argParser(durationOption(1)))
    .action(async (opts: PingOptions) => {
      const roster = readRosterOption(opts.roster);
      const agent = cliAgent();
      try {
        const results = await Promise.all(
          roster.map(async (node) => {
            const started = performance.now();
            try {
              const ping = await callNode(agent, `${node.url}/ping`, { timeoutMs: opts.timeout });
              const latency = performance.now() - started;
              const root = await callNode(agent, `${node.url}/`, { timeoutMs: opts.timeout });
              const ok = ping.status === 200 && ping.body.status === 'pong';
              const info = root.body;
              return [node.id, node.url, ok ? 'pong' : `HTTP ${ping.status}`, `${latency.toFixed(1)} ms`, String(info.team ?? '?'), String(info.counter ?? '?'), ok] as const;
            } catch (err) {
              return [node.id, node.url, `no answer: ${unreachableReason(err, opts.timeout)}`, '-', '-', '-', false] as const;
            }
          }),
        );
        process.stdout.write(`${formatTable(['id', 'url', 'ping', 'latency', 'team', 'counter'], results.map((r) => r.slice(0, 6) as string[]))}\n`);
        const answered = results.filter((r) => r[6]).length;
        process.stdout.write(`${answered}/${roster.length} nodes answered\n`);
        if (answered < roster.length) throw new OperationFailed(`${roster.length - answered} node(s) did not answer`);
      } finally {
        await agent.close();
      }
    });
}
