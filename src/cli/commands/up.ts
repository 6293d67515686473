/**
 * `distlab up`: a whole cluster on this machine with one command.
 *
 * Starts N node processes on 127.0.0.1, waits until every one answers
 * /health, prints who is where, writes the roster, and keeps running until
 * Ctrl+C or SIGTERM — then stops every node it started.
 *
 * Each node keeps its /data on disk in its own directory (`.distlab/data/<id>`
 * by default; `--fresh` wipes them first), and `up` serves a control API on
 * loopback (cluster-control.ts) through which `distlab chaos kill` kills and
 * restarts its nodes.
 */
import { Option, type Command } from 'commander';
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_PROTOCOL_SETTINGS } from '../../live/protocols.js';
import { serveClusterControl } from '../cluster-control.js';
import { dataDirProblem, kvSettingsProblem } from '../node-config.js';
import { LOG_LEVELS } from '../../live/log.js';
import { OperationFailed, UsageError } from '../errors.js';
import { LocalCluster } from '../local-cluster.js';
import { intOption } from '../options.js';
import { DEFAULT_ROSTER_PATH } from '../roster-option.js';
import { formatTable } from '../table.js';

interface UpOptions {
  nodes: number;
  basePort: number;
  rosterOut: string;
  logLevel: string;
  dataRoot: string;
  fresh: boolean;
  replicas: number;
  readQuorum: number;
  writeQuorum: number;
  consistency: 'quorum' | 'linearizable';
}

/** Where `up` keeps each node's data directory (`<root>/<id>`). */
export const DEFAULT_DATA_ROOT = '.distlab/data';

export function register(program: Command): void {
  program
    .command('up')
    .description('start a local cluster of nodes on 127.0.0.1 (Ctrl+C stops them all)')
    .addOption(new Option('--nodes <n>', 'how many nodes').env('DISTLAB_NODES').default(5).argParser(intOption(1, 100)))
    .addOption(new Option('--base-port <port>', 'port of node 1; node k gets base+k-1 (0 = free ports chosen by the OS)').env('DISTLAB_BASE_PORT').default(5001).argParser(intOption(0, 65535)))
    .addOption(new Option('--roster-out <file>', 'where to write the roster (YAML, or JSON if it ends in .json)').env('DISTLAB_ROSTER_OUT').default(DEFAULT_ROSTER_PATH))
    .addOption(new Option('--log-level <level>', 'log level of the nodes').env('DISTLAB_LOG_LEVEL').default('info').choices([...LOG_LEVELS, 'silent']))
    .addOption(new Option('--data-root <dir>', 'each node keeps its data in <dir>/<id>').env('DISTLAB_DATA_ROOT').default(DEFAULT_DATA_ROOT))
    .addOption(new Option('--fresh', 'wipe the nodes\' data directories before starting').default(false))
    .addOption(new Option('--replicas <n>', 'replicas per key (N)').default(DEFAULT_PROTOCOL_SETTINGS.kv.n).argParser(intOption(1, 100)))
    .addOption(new Option('--read-quorum <n>', 'replies a read waits for (R)').default(DEFAULT_PROTOCOL_SETTINGS.kv.r).argParser(intOption(1, 100)))
    .addOption(new Option('--write-quorum <n>', 'durable acknowledgements a write waits for (W)').default(DEFAULT_PROTOCOL_SETTINGS.kv.w).argParser(intOption(1, 100)))
    .addOption(new Option('--consistency <mode>', 'quorum or linearizable').default(DEFAULT_PROTOCOL_SETTINGS.kv.mode).choices(['quorum', 'linearizable']))
    .action(async (opts: UpOptions) => {
      const kvProblem = kvSettingsProblem({ n: opts.replicas, r: opts.readQuorum, w: opts.writeQuorum, mode: opts.consistency });
      if (kvProblem) throw new UsageError(kvProblem);
      if (opts.basePort !== 0 && opts.basePort + opts.nodes - 1 > 65535) {
        throw new UsageError(`--base-port ${opts.basePort} with ${opts.nodes} nodes goes past port 65535`);
      }
      // The roster goes to a file in a directory that is there or can be made (like a data directory).
      if (existsSync(opts.rosterOut) && statSync(opts.rosterOut).isDirectory()) throw new UsageError(`--roster-out ${opts.rosterOut}: is a directory`);
      const rosterProblem = dataDirProblem(dirname(resolve(opts.rosterOut)));
      if (rosterProblem) throw new UsageError(`--roster-out ${opts.rosterOut}: ${dirname(opts.rosterOut)}: ${rosterProblem}`);
      const rootProblem = dataDirProblem(opts.dataRoot);
      if (rootProblem) throw new UsageError(`--data-root ${opts.dataRoot}: ${rootProblem}`);
      if (!opts.fresh) {
        for (let id = 1; id <= opts.nodes; id++) {
          const nodeProblem = dataDirProblem(join(opts.dataRoot, String(id)));
          if (nodeProblem) throw new UsageError(`--data-root ${opts.dataRoot}: ${join(opts.dataRoot, String(id))}: ${nodeProblem}`);
        }
      }
      await up(opts);
    });
}

async function up(opts: UpOptions): Promise<void> {
  const rosterPath = resolve(opts.rosterOut);
  const dataRoot = resolve(opts.dataRoot);
  if (opts.fresh) rmSync(dataRoot, { recursive: true, force: true });
  const out = process.stdout;
  out.write(`starting ${opts.nodes} node${opts.nodes === 1 ? '' : 's'} on 127.0.0.1 ...\n`);

  // A signal during start-up still stops everything that was started.
  const abort = new AbortController();
  let stopRequested: ((why: string) => void) | undefined;
  const stopped = new Promise<string>((r) => (stopRequested = r));
  const onSignal = (signal: NodeJS.Signals) => {
    abort.abort();
    stopRequested?.(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const starting = LocalCluster.start({
      nodes: opts.nodes,
      basePort: opts.basePort,
      rosterPath,
      stdio: 'inherit',
      nodeArgs: (id) => [
        '--log-level', opts.logLevel,
        '--data-dir', join(dataRoot, id),
        ...kvNodeArgs(opts),
      ],
      signal: abort.signal,
    });
    const first = await Promise.race([starting.then((c) => ({ cluster: c })), stopped.then((why) => ({ why }))]).catch((err: unknown) => {
      throw new OperationFailed(`cluster did not start: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (!('cluster' in first)) {
      // Stopped while starting: let the start finish (or fail), then stop what it started.
      const cluster = await starting.catch(() => undefined);
      await cluster?.stop();
      return;
    }
    const cluster = first.cluster;
    const control = await serveClusterControl(cluster);
    let lost = false;
    cluster.onNodeExit((node, code, signal) => {
      const left = cluster.nodes.filter((n) => n.alive).length;
      out.write(`node ${node.id} (pid ${node.pid}) exited (${signal ?? `code ${code}`}); ${left} node(s) still running\n`);
      if (left === 0) {
        lost = true;
        stopRequested?.('every node exited');
      }
    });
    out.write(
      `\n${formatTable(
        ['id', 'team', 'url', 'pid'],
        cluster.nodes.map((n) => [n.id, n.team, n.url, n.pid]),
      )}\n\nroster: ${rosterPath}\ndata:   ${dataRoot}/<id>${opts.fresh ? ' (wiped)' : ''}\ncontrol: ${control.file} (distlab chaos kill uses it)\n${opts.nodes} nodes ready. Try: curl ${cluster.nodes[0]?.url}/health   (Ctrl+C stops the cluster)\n`,
    );
    const why = await stopped;
    out.write(`\n${why}: stopping ${cluster.nodes.filter((n) => n.alive).length} node(s) ...\n`);
    await control.close();
    await cluster.stop();
    out.write('all nodes stopped\n');
    if (lost) throw new OperationFailed('every node of the cluster exited');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The replicated store's flags, for every node. */
export function kvNodeArgs(opts: Pick<UpOptions, 'replicas' | 'readQuorum' | 'writeQuorum' | 'consistency'>): string[] {
  return ['--replicas', String(opts.replicas), '--read-quorum', String(opts.readQuorum), '--write-quorum', String(opts.writeQuorum), '--consistency', opts.consistency];
}
