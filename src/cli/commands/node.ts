/**
 * `distlab node`: run one node — the handouts' HTTP service, in one process
 * or in `--workers` processes sharing the port.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { isIP } from 'node:net';
import { MAX_LOAD_FACTOR } from '../../live/cpu-load.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../../live/log.js';
import { NodeStartError, runNode } from '../../live/node-main.js';
import { DEFAULT_PROTOCOL_SETTINGS, ELECTION_ALGORITHMS, SWIM_PROFILES, type SwimProfile } from '../../live/protocols.js';
import type { ElectionAlgorithm } from '../../protocols/election.js';
import type { KvMode } from '../../protocols/kv.js';
import { RosterError, validateId } from '../../live/roster.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_CALL_TIMEOUT_MS } from '../../live/server.js';
import { OperationFailed } from '../errors.js';
import { resolveNodeConfig, type NodeFlags } from '../node-config.js';
import { intOption, parseDuration } from '../options.js';

function nodeIdOption(raw: string): string {
  try {
    return validateId(raw, 'id');
  } catch (err) {
    if (err instanceof RosterError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/i;

/** --host: an IP address, or a host name that can stand in the node's URL (999.1.1.1 is neither). */
function hostOption(raw: string): string {
  const host = raw.trim();
  if (isIP(host) !== 0) return host;
  const fitsUrl = () => {
    try {
      new URL(`http://${host}:1`);
      return true;
    } catch {
      return false;
    }
  };
  if (HOST_NAME.test(host) && !/^[\d.]+$/.test(host) && fitsUrl()) return host;
  throw new InvalidArgumentError(`expected an IP address (127.0.0.1, 0.0.0.0, ::1, ...) or a host name, got '${raw}'`);
}

interface RawNodeOptions {
  id: string;
  team?: string;
  host: string;
  port: number;
  roster?: string;
  loadFactor: number;
  workers: number;
  logLevel: NodeFlags['logLevel'];
  logFormat: LogFormat;
  bodyLimit: number;
  callTimeout: number;
  election: ElectionAlgorithm;
  swimProfile: SwimProfile;
  gossipInterval: number;
  dataDir?: string;
  replicas: number;
  readQuorum: number;
  writeQuorum: number;
  consistency: KvMode;
}

export function register(program: Command): void {
  program
    .command('node')
    .description('run one distlab node (the workshop handouts\' HTTP service)')
    .addOption(new Option('--id <id>', 'node id (an integer, or letters/digits)').env('DISTLAB_ID').default('1').argParser(nodeIdOption))
    .addOption(new Option('--team <name>', 'team name shown by GET / (default: from the roster, else team<id>)').env('DISTLAB_TEAM'))
    .addOption(new Option('--host <addr>', 'address to listen on (0.0.0.0 to accept other machines)').env('DISTLAB_HOST').default('127.0.0.1').argParser(hostOption))
    .addOption(new Option('--port <n>', 'port to listen on (0 = any free port); with --roster and no --port, the roster\'s').env('DISTLAB_PORT').default(5000).argParser(intOption(0, 65535)))
    .addOption(new Option('--roster <file>', 'roster file (YAML or JSON) listing every node: id, team, url').env('DISTLAB_ROSTER'))
    .addOption(new Option('--load-factor <n>', `burn CPU with fib(n) on each data request (0-${MAX_LOAD_FACTOR})`).env('DISTLAB_LOAD_FACTOR').default(0).argParser(intOption(0, MAX_LOAD_FACTOR)))
    .addOption(new Option('--workers <n>', 'worker processes sharing the port (vertical scaling)').env('DISTLAB_WORKERS').default(1).argParser(intOption(1, 64)))
    .addOption(new Option('--log-level <level>', 'log level').env('DISTLAB_LOG_LEVEL').default('info').choices([...LOG_LEVELS, 'silent']))
    .addOption(new Option('--log-format <format>', 'log format: pretty on a terminal, JSON otherwise, unless forced').env('DISTLAB_LOG_FORMAT').default('auto').choices(LOG_FORMATS))
    .addOption(new Option('--body-limit <bytes>', 'largest accepted request body (POST /data: at most 1 MiB, what a replica write carries)').env('DISTLAB_BODY_LIMIT').default(DEFAULT_BODY_LIMIT).argParser(intOption(1, 1024 * 1024 * 1024)))
    .addOption(new Option('--call-timeout <duration>', 'timeout of calls to peers, e.g. 1s or 500ms').env('DISTLAB_CALL_TIMEOUT').default(DEFAULT_CALL_TIMEOUT_MS, '1s').argParser(durationOption))
    .addOption(new Option('--election <algorithm>', 'leader election: bully (highest id alive leads) or lowest (lowest id alive)').env('DISTLAB_ELECTION').default(DEFAULT_PROTOCOL_SETTINGS.election).choices(ELECTION_ALGORITHMS))
    .addOption(new Option('--swim-profile <profile>', 'failure detector timing: local (loopback, ~2 s to declare a crash) or lan (Pis on a LAN, ~6-10 s)').env('DISTLAB_SWIM_PROFILE').default(DEFAULT_PROTOCOL_SETTINGS.swimProfile).choices(SWIM_PROFILES))
    .addOption(new Option('--gossip-interval <duration>', 'time between gossip rounds, e.g. 1s or 200ms').env('DISTLAB_GOSSIP_INTERVAL').default(DEFAULT_PROTOCOL_SETTINGS.gossipIntervalMs, '1s').argParser(durationOption))
    .addOption(new Option('--data-dir <dir>', 'keep /data on disk (SQLite) in this directory; without it, in memory').env('DISTLAB_DATA_DIR'))
    .addOption(new Option('--replicas <n>', 'replicas per key of the replicated /data store (N)').env('DISTLAB_REPLICAS').default(DEFAULT_PROTOCOL_SETTINGS.kv.n).argParser(intOption(1, 100)))
    .addOption(new Option('--read-quorum <n>', 'replies a /data read waits for (R)').env('DISTLAB_READ_QUORUM').default(DEFAULT_PROTOCOL_SETTINGS.kv.r).argParser(intOption(1, 100)))
    .addOption(new Option('--write-quorum <n>', 'durable acknowledgements a /data write waits for (W)').env('DISTLAB_WRITE_QUORUM').default(DEFAULT_PROTOCOL_SETTINGS.kv.w).argParser(intOption(1, 100)))
    .addOption(new Option('--consistency <mode>', 'quorum (Dynamo-style) or linearizable (ABD: reads write back)').env('DISTLAB_CONSISTENCY').default(DEFAULT_PROTOCOL_SETTINGS.kv.mode).choices(KV_MODES))
    .action(async (opts: RawNodeOptions, command: Command) => {
      const portSource = command.getOptionValueSource('port');
      const config = resolveNodeConfig({
        id: opts.id,
        team: opts.team,
        host: opts.host,
        port: opts.port,
        portGiven: portSource === 'cli' || portSource === 'env',
        roster: opts.roster,
        loadFactor: opts.loadFactor,
        workers: opts.workers,
        logLevel: opts.logLevel,
        logFormat: opts.logFormat,
        bodyLimit: opts.bodyLimit,
        callTimeoutMs: opts.callTimeout,
        protocols: {
          election: opts.election,
          swimProfile: opts.swimProfile,
          gossipIntervalMs: opts.gossipInterval,
          kv: { n: opts.replicas, r: opts.readQuorum, w: opts.writeQuorum, mode: opts.consistency },
        },
        dataDir: opts.dataDir,
      });
      try {
        await runNode(config);
      } catch (err) {
        if (err instanceof NodeStartError) throw new OperationFailed(err.message);
        throw err;
      }
    });
}

const KV_MODES: readonly KvMode[] = ['quorum', 'linearizable'];

function durationOption(raw: string): number {
  const ms = parseDuration(raw);
  if (ms < 1 || ms > 600_000) throw new InvalidArgumentError(`expected a duration from 1ms to 10m, got '${raw}'`);
  return ms;
}
