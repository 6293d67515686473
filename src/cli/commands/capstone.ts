/**
 * `distlab capstone`: the handout's Module 6 for real — a cluster, a chaos
 * kill script, and the resilient client's victory loop, ending with a report
 * that proves (or disproves) that no acknowledged write was lost.
 *
 * By default it starts its own local cluster (fresh data directories under
 * `.distlab/capstone/`) and kills a random node every `--kill-every`,
 * restarting it `--restart-after` later. With `--roster FILE` it uses a
 * running cluster instead, and kills through that cluster's control API
 * when `distlab up` started it (`cluster.json` beside the roster).
 *
 * Exit 0 when nothing acknowledged was lost (and, in linearizable mode, the
 * history is linearizable); 1 otherwise.
 */
import { Option, type Command } from 'commander';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatViolation } from '../../check/linearizability.js';
import { MODELS } from '../../check/models.js';
import { runVictoryLoop, type OperationLine, type VictoryReport } from '../../client/victory-loop.js';
import { DEFAULT_PROTOCOL_SETTINGS } from '../../live/protocols.js';
import { startKiller, type KillEvent, type KillTarget } from '../chaos/killer.js';
import { ClusterControl, clusterFilePath } from '../cluster-control.js';
import { OperationFailed, UsageError } from '../errors.js';
import { LocalCluster } from '../local-cluster.js';
import { durationOption, intOption } from '../options.js';
import { readRosterOption } from '../roster-option.js';
import { kvNodeArgs } from './up.js';

interface CapstoneOptions {
  duration: number;
  nodes: number;
  consistency: 'quorum' | 'linearizable';
  killEvery: number;
  restartAfter: number;
  chaos: boolean;
  workers: number;
  keys: number;
  history?: string;
  roster?: string;
  dataRoot: string;
  quiet: boolean;
  json: boolean;
}

export function register(program: Command): void {
  program
    .command('capstone')
    .description('the Module 6 capstone: chaos kills nodes while clients write and read; reports lost writes (must be 0)')
    .addOption(new Option('--duration <time>', 'how long the victory loop runs, e.g. 60s or 10m').default(600_000, '10m').argParser(durationOption(1000)))
    .addOption(new Option('--nodes <n>', 'nodes of the local cluster').default(3).argParser(intOption(1, 20)))
    .addOption(new Option('--consistency <mode>', 'quorum or linearizable (then the history is also checked for linearizability)').default('quorum').choices(['quorum', 'linearizable']))
    .addOption(new Option('--kill-every <time>', 'kill a random node this often').default(10_000, '10s').argParser(durationOption(100)))
    .addOption(new Option('--restart-after <time>', 'restart a killed node after this long').default(3000, '3s').argParser(durationOption(0)))
    .addOption(new Option('--no-chaos', 'do not kill nodes'))
    .addOption(new Option('--workers <n>', 'client workers writing and reading at once').default(4).argParser(intOption(1, 64)))
    .addOption(new Option('--keys <n>', 'size of the key set the workers share').default(8).argParser(intOption(1, 10_000)))
    .addOption(new Option('--history <file>', 'also write the history (JSON lines) here, for `distlab check`'))
    .addOption(new Option('--roster <file>', 'use this running cluster instead of starting one'))
    .addOption(new Option('--data-root <dir>', 'data directories of the cluster it starts (wiped first)').default('.distlab/capstone'))
    .addOption(new Option('--quiet', 'print only chaos events, failures and the report').default(false))
    .addOption(new Option('--json', 'print the report as JSON').default(false))
    .action(async (opts: CapstoneOptions) => {
      const code = await capstone(opts);
      if (code !== 0) throw new OperationFailed('the capstone failed: see the report above');
    });
}

async function capstone(opts: CapstoneOptions): Promise<number> {
  const out = (line: string) => void process.stdout.write(`${line}\n`);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cluster: LocalCluster | undefined;
  try {
    let urls: string[];
    let target: KillTarget | undefined;
    if (opts.roster !== undefined) {
      urls = readRosterOption(opts.roster).map((n) => n.url);
      const control = existsSync(clusterFilePath(resolve(opts.roster))) ? ClusterControl.open(resolve(opts.roster)) : undefined;
      if (opts.chaos && !control) throw new UsageError(`no control API for ${opts.roster} (${clusterFilePath(resolve(opts.roster))} is missing): start the cluster with 'distlab up', or pass --no-chaos`);
      target = control;
      out(`using the running cluster of ${opts.roster}: ${urls.join(' ')}`);
    } else {
      const root = resolve(opts.dataRoot);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      const { n, r, w } = DEFAULT_PROTOCOL_SETTINGS.kv;
      out(`starting ${opts.nodes} nodes (${opts.consistency}, N=${n} R=${r} W=${w}, capped at the cluster size), data in ${root}/data/<id> ...`);
      const kv = { replicas: n, readQuorum: r, writeQuorum: w, consistency: opts.consistency };
      cluster = await LocalCluster.start({
        nodes: opts.nodes,
        basePort: 0,
        rosterPath: join(root, 'roster.yaml'),
        stdio: 'pipe',
        nodeArgs: (id) => ['--log-level', 'warn', '--data-dir', join(root, 'data', id), ...kvNodeArgs(kv)],
        signal: abort.signal,
      });
      const c = cluster;
      urls = c.nodes.map((n) => n.url);
      target = {
        nodes: async () => c.nodes.map((n) => ({ id: n.id, alive: n.alive })),
        kill: (id) => c.kill(id, 'SIGKILL'),
        restart: (id) => c.restart(id),
      };
      out(`cluster up: ${urls.join(' ')}`);
    }

    const killer =
      opts.chaos && target
        ? startKiller(target, { everyMs: opts.killEvery, restartAfterMs: opts.restartAfter, onEvent: (e) => out(describeKill(e)) })
        : undefined;
    if (killer) out(`💥 chaos: killing a random node every ${opts.killEvery / 1000}s, restarting it after ${opts.restartAfter / 1000}s`);
    out(`victory loop: ${opts.workers} workers, ${opts.keys} keys, for ${opts.duration / 1000}s ...`);

    let report: VictoryReport;
    try {
      report = await runVictoryLoop({
        nodes: urls,
        durationMs: opts.duration,
        workers: opts.workers,
        keys: opts.keys,
        ...(opts.history === undefined ? {} : { historyFile: resolve(opts.history) }),
        checkLinearizable: opts.consistency === 'linearizable',
        signal: abort.signal,
        beforeFinalReads: async () => {
          await killer?.stop();
          if (killer) out('--- chaos stopped: every node running; final reads of every key ---');
        },
        onOperation: (op) => {
          const line = describeOperation(op, opts.quiet);
          if (line) out(line);
        },
      });
    } finally {
      await killer?.stop();
    }
    const failed = printReport(report, killer?.kills ?? 0, opts, out);
    return failed ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cluster?.stop();
  }
}

function describeKill(e: KillEvent): string {
  if (e.type === 'killed') return `--- 💥 CHAOS: KILLED NODE ${e.id} (SIGKILL) ---`;
  if (e.type === 'restarted') return `--- ♻️  node ${e.id} restarted (down ${(e.downMs / 1000).toFixed(1)}s) ---`;
  return `--- ⚠️  chaos: ${e.id === undefined ? '' : `node ${e.id}: `}${e.message} ---`;
}

function describeOperation(op: OperationLine, quiet: boolean): string | undefined {
  const node = op.node ? ` via ${op.node.replace(/^http:\/\//, '')}` : '';
  if (op.ok && op.f === 'put') return quiet ? undefined : `✅ Write Success ${op.key}=${op.value} acks=[${(op.acks ?? []).join(',')}]${node} ${op.ms.toFixed(0)}ms`;
  if (op.ok) return undefined;
  const what = op.f === 'put' ? 'Write' : 'Read';
  return `❌ ${what} Failed ${op.key} (${op.kind}: ${op.reason}) ${op.ms.toFixed(0)}ms`;
}

/** Prints the report; true when the capstone failed. */
function printReport(r: VictoryReport, kills: number, opts: CapstoneOptions, out: (line: string) => void): boolean {
  const lost = r.lostWrites.lost.length;
  const lin = r.linearizability;
  const failed = lost > 0 || lin?.valid === false;
  if (opts.json) {
    out(JSON.stringify({ ...r, kills, lostWrites: { ...r.lostWrites, lost: r.lostWrites.lost.map((l) => l.why) }, passed: !failed }, null, 2));
    return failed;
  }
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  out('');
  out('=== capstone report ===');
  out(`duration:            ${(r.durationMs / 1000).toFixed(1)} s, ${kills} node kill(s), consistency ${opts.consistency}`);
  out(`operations:          ${r.operations} (${r.writes.total} writes, ${r.reads.total} reads), ${r.ok} ok`);
  out(`writes:              ${r.writes.ok} acknowledged (${r.writeRate.toFixed(1)}/s), ${r.writes.definite} failed definitely, ${r.writes.indefinite} indefinite`);
  out(`reads:               ${r.reads.ok} ok, ${r.reads.failed} failed`);
  out(`availability:        ${pct(r.availability)}`);
  const kinds = Object.entries(r.failures).sort((a, b) => b[1] - a[1]);
  out(`failures by kind:    ${kinds.length === 0 ? 'none' : ''}`);
  for (const [kind, n] of kinds) out(`  ${String(n).padStart(6)}  ${kind}`);
  out(`acknowledged writes lost: ${lost} (checked ${r.lostWrites.checkedWrites} of ${r.lostWrites.acknowledgedWrites} by a later read) ${lost === 0 ? '✅' : '❌'}`);
  for (const l of r.lostWrites.lost.slice(0, 5)) out(`  ${l.why}`);
  if (lin) {
    const verdict = lin.valid === true ? 'linearizable ✅' : lin.valid === false ? 'NOT linearizable ❌' : `unknown (${lin.reason ?? 'search bound'})`;
    out(`linearizability:     ${verdict} (${lin.operations} operations, ${lin.partitions} keys, ${lin.elapsedMs} ms)`);
    if (lin.violation) out(formatViolation(MODELS[lin.model], lin.violation));
  }
  out(failed ? '❌ CAPSTONE FAILED' : '🏆 CAPSTONE PASSED: nothing acknowledged was lost');
  return failed;
}
