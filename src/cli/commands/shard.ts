/**
 * `distlab shard report` — the handout's rebalancing table (modules 3 & 4):
 * how many keys move when the cluster grows or shrinks, under modulo and
 * under consistent hashing, and how even the load per node is.
 *
 * `distlab shard which KEY` — the owner of a key and its replica
 * (preference) list.
 *
 * The algorithms live in src/protocols/sharding.ts; this file only parses
 * flags and prints.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { NodeId } from '../../protocols/envelope.js';
import {
  DEFAULT_RING_CONFIG,
  numberedNodes,
  partitioner,
  rebalance,
  sampleKeys,
  type LoadSpread,
  type RebalanceReport,
  type Strategy,
} from '../../protocols/sharding.js';
import { UsageError } from '../errors.js';
import { intOption } from '../options.js';

/** Nodes of `distlab up`'s default cluster, used when no cluster is given. */
const DEFAULT_CLUSTER_SIZE = 5;
const MAX_NODES = 1000;

/**
 * `--nodes`: either a count (`5` → nodes "1".."5") or a comma-separated list
 * of node ids (`1,2,3`, `a,b,c`).
 */
function nodesOption(raw: string): NodeId[] {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return numberedNodes(intOption(1, MAX_NODES)(text));
  const ids = text.split(',').map((id) => id.trim());
  if (ids.some((id) => id === '')) throw new InvalidArgumentError(`expected a node count or a list like 1,2,3, got '${raw}'`);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate !== undefined) throw new InvalidArgumentError(`node '${duplicate}' is listed twice`);
  return ids;
}

function strategyOption(raw: string): Strategy {
  if (raw === 'modulo' || raw === 'consistent') return raw;
  throw new InvalidArgumentError(`expected 'consistent' or 'modulo', got '${raw}'`);
}

interface ClusterOptions {
  nodes?: NodeId[];
}

/**
 * The cluster options every shard command shares. This and `clusterOf` are
 * the one place a `--roster FILE` option (the node ids of a roster) plugs in.
 */
function addClusterOptions(cmd: Command): Command {
  return cmd.option('--nodes <ids|count>', `the cluster: node ids like 1,2,3, or a count (default: ${DEFAULT_CLUSTER_SIZE} nodes, 1..${DEFAULT_CLUSTER_SIZE})`, nodesOption);
}

function clusterOf(opts: ClusterOptions): NodeId[] {
  return opts.nodes ?? numberedNodes(DEFAULT_CLUSTER_SIZE);
}

const BAR_WIDTH = 40;

function bar(fraction: number): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return '█'.repeat(full) + '░'.repeat(BAR_WIDTH - full);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** Within this factor of the ideal, a strategy counts as moving "about the minimum". */
const LOW_IMPACT_FACTOR = 1.5;

function strategyBlock(r: RebalanceReport, vnodes: number): string[] {
  const title = r.strategy === 'modulo' ? 'MODULO' : `CONSISTENT_HASHING (${vnodes} virtual nodes per node)`;
  const ratio = r.movedFraction / r.idealFraction;
  const verdict =
    ratio <= LOW_IMPACT_FACTOR
      ? `✅ LOW IMPACT: close to the ideal ${percent(r.idealFraction)}`
      : `⚠️ HIGH IMPACT: ${ratio.toFixed(1)}× the ideal ${percent(r.idealFraction)}`;
  const lines = [
    `🧪 Testing Strategy: ${title}`,
    `Keys Moved:   ${r.moved}/${r.keys}`,
    `Percentage:   ${percent(r.movedFraction)}  ${bar(r.movedFraction)}`,
  ];
  if (r.ringShareMoved !== undefined) lines.push(`Ring share:   ${percent(r.ringShareMoved)} of the circle changed hands (the expected fraction of keys)`);
  lines.push(verdict, '');
  return lines;
}

/** Right-aligned columns after a left-aligned first two, each as wide as its widest cell. */
function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
}

function spreadRow(label: string, when: string, s: LoadSpread): string[] {
  return [label, when, String(s.nodes), String(s.min), String(s.max), s.mean.toFixed(1), s.stddev.toFixed(1)];
}

function renderReport(reports: RebalanceReport[], vnodes: number): string {
  const first = reports[0]!;
  const lines = [
    `Rebalancing ${first.keys} keys (user_0 .. user_${first.keys - 1}) from ${first.from} to ${first.to} nodes; at least ${percent(first.idealFraction)} must move.`,
    '',
    ...reports.flatMap((r) => strategyBlock(r, vnodes)),
    'Load per node (keys):',
    ...columns([
      ['strategy', 'when', 'nodes', 'min', 'max', 'mean', 'stddev'],
      ...reports.flatMap((r) => [spreadRow(r.strategy, 'before', r.before), spreadRow('', 'after', r.after)]),
    ]),
  ];
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  const shard = program.command('shard').description('where keys live: modulo vs consistent hashing (handout modules 3 and 4)');

  shard
    .command('report')
    .description('how many keys move when the cluster resizes, and the load per node, for both strategies')
    .option('--keys <n>', 'number of keys (user_0, user_1, ...)', intOption(1, 1_000_000), 1000)
    .option('--from <n>', 'nodes before', intOption(1, MAX_NODES), 3)
    .option('--to <n>', 'nodes after', intOption(1, MAX_NODES), 4)
    .option('--vnodes <v>', 'virtual nodes per node on the consistent-hashing ring', intOption(1, 10_000), DEFAULT_RING_CONFIG.vnodes)
    .option('--json', 'print the figures as JSON')
    .action((opts: { keys: number; from: number; to: number; vnodes: number; json?: boolean }) => {
      if (opts.from === opts.to) throw new UsageError(`--from and --to must differ (both are ${opts.from})`);
      const keys = sampleKeys(opts.keys);
      const reports = (['modulo', 'consistent'] as const).map((strategy) => rebalance(strategy, keys, opts.from, opts.to, { vnodes: opts.vnodes }));
      process.stdout.write(opts.json ? JSON.stringify({ vnodes: opts.vnodes, reports }, null, 2) + '\n' : renderReport(reports, opts.vnodes));
    });

  addClusterOptions(
    shard
      .command('which')
      .description("a key's owner and its replica (preference) list")
      .argument('<key>', 'the key'),
  )
    .option('--replicas <n>', 'replicas per key (N)', intOption(1, MAX_NODES), 3)
    .option('--vnodes <v>', 'virtual nodes per node on the consistent-hashing ring', intOption(1, 10_000), DEFAULT_RING_CONFIG.vnodes)
    .option('--strategy <s>', "'consistent' or 'modulo'", strategyOption, 'consistent' as Strategy)
    .option('--json', 'print the answer as JSON')
    .action((key: string, opts: ClusterOptions & { replicas: number; vnodes: number; strategy: Strategy; json?: boolean }) => {
      const nodes = clusterOf(opts);
      if (opts.replicas > nodes.length) throw new UsageError(`--replicas ${opts.replicas} is more than the ${nodes.length} nodes of the cluster`);
      const p = partitioner(opts.strategy, nodes, { vnodes: opts.vnodes });
      const replicas = p.preferenceList(key, opts.replicas);
      const answer = { key, strategy: opts.strategy, vnodes: opts.strategy === 'consistent' ? opts.vnodes : undefined, nodes, owner: replicas[0]!, replicas };
      process.stdout.write(
        opts.json
          ? JSON.stringify(answer) + '\n'
          : `Key '${key}' maps to Node ${answer.owner}\nreplicas (preference list, N=${opts.replicas}): ${replicas.join(', ')}\n`,
      );
    });
}
