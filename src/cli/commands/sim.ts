/**
 * `distlab sim <scenario>`: runs a scenario in the deterministic simulator
 * and prints its seed, trace hash, figures and verdicts. Exit 1 when a
 * verdict fails, 2 on bad usage. The same `--seed` (and flags) replays the
 * same run, down to the trace hash.
 */
import { Command, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseSimDuration, parsePartition, type CrashSchedule, type PartitionSpec } from '../../sim/faults.js';
import { parseLatency, SimConfigError, DEFAULT_NETWORK, type NetworkConfig } from '../../sim/network.js';
import { MAX_SEED } from '../../sim/rng.js';
import { SCENARIOS, findScenario } from '../../sim/scenarios/index.js';
import type { ScenarioOptions, ScenarioResult } from '../../sim/scenarios/types.js';
import { OperationFailed, UsageError } from '../errors.js';
import { floatOption, intOption, parseDuration } from '../options.js';

/** Flags that reach the scenario unchanged, under their ScenarioOptions name. */
const PASSED_THROUGH = ['nodes', 'rate', 'fanout', 'mode', 'algorithm', 'join', 'consistency', 'clients', 'keys'] as const;

interface SimFlags extends Pick<ScenarioOptions, (typeof PASSED_THROUGH)[number]> {
  seed?: number;
  latency?: number;
  latencyDist?: string;
  loss?: number;
  dup?: number;
  partition?: string[];
  crash?: string;
  duration?: number;
  diskDelay?: number;
  interval?: number;
  history?: string;
  json?: boolean;
  events?: string;
}

const HELP = `
Network model (between nodes; client links have the latency only):
  --latency MS               constant one-way latency
  --latency-dist SPEC        const:MS | uniform:MIN-MAX | exp:MEAN | exp:FLOOR+MEAN (ms)
  --loss P, --dup P          per-message loss / duplication probability

Partitions (repeat --partition; all heal when --duration ends):
  random:10s                 new random halves every 10 s
  isolate:10s                a new random node cut off from all others every 10 s
  1,2/3-5                    groups {1,2} and {3,4,5} cannot reach each other
  1,2/3,4/5                  three groups
  1>2,3                      one-way: messages from 1 to 2 and 3 are dropped
  SPEC@5s-15s, SPEC@5s       only in that window / from 5 s on

Crashes: --crash 5s (a random node crashes every 5 s, back after 2.5 s)
         --crash 5s:1s (back after 1 s); all are back when --duration ends.

Replay: a run prints its seed; the same seed and flags give the same trace hash.
See docs/sim.md.`;

export function register(program: Command): void {
  program
    .command('sim')
    .description('run a scenario in the deterministic simulator')
    .argument('<scenario>', `one of: ${SCENARIOS.map((s) => s.name).join(', ')}`)
    .option('--nodes <n>', 'cluster size (default: the scenario\'s)', intOption(1, 100_000))
    .option('--seed <s>', 'seed to run or replay (default: a fresh random one)', intOption(0, MAX_SEED))
    .addOption(new Option('--latency <ms>', 'constant one-way latency in ms').argParser(floatOption(0)).conflicts('latencyDist'))
    .option('--latency-dist <spec>', 'latency distribution: const:MS, uniform:MIN-MAX, exp:MEAN, exp:FLOOR+MEAN')
    .option('--loss <p>', 'probability a message between nodes is lost', floatOption(0, 1))
    .option('--dup <p>', 'probability a message between nodes is duplicated', floatOption(0, 1))
    .option('--partition <spec>', 'partition schedule (repeatable; see below)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--crash <every[:down]>', 'crash a random node every EVERY, restart it after DOWN')
    .option('--disk-delay <d>', 'time until a storage write is durable (default 1ms)', parseDuration)
    .option('--duration <d>', 'length of the workload-and-faults phase (e.g. 20s)', parseDuration)
    .option('--rate <ops>', 'client operations per second', floatOption(0.001))
    .option('--fanout <k>', 'gossip: peers per round', intOption(1, 1000))
    .option('--interval <d>', 'gossip: time between rounds (e.g. 500ms)', parseDuration)
    .option('--mode <mode>', 'gossip: push-pull or push')
    .option('--algorithm <name>', 'election: bully (highest id leads) or lowest')
    .option('--join', 'membership: every node knows only node 1 and joins through it')
    .option('--consistency <mode>', 'kv: quorum or linearizable')
    .option('--clients <n>', 'kv: concurrent client processes', intOption(1, 1000))
    .option('--keys <n>', 'kv: keys the clients work on', intOption(1, 100_000))
    .option('--history <file>', 'kv: write the client history to FILE as JSON lines (distlab check reads it)')
    .option('--json', 'print the result as JSON')
    .option('--events <file>', 'write every event (stamped node, time, seq) to FILE as JSON lines')
    .addHelpText('after', `\nScenarios:\n${SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.summary}`).join('\n')}\n${HELP}`)
    .action((name: string, flags: SimFlags) => {
      const scenario = findScenario(name);
      if (!scenario) throw new UsageError(`unknown scenario '${name}' (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
      const options = toOptions(flags);
      let eventsFd: number | undefined;
      if (flags.events !== undefined) {
        try {
          eventsFd = openSync(flags.events, 'w');
        } catch (err) {
          throw new UsageError(`cannot write events to '${flags.events}': ${(err as Error).message}`);
        }
        const fd = eventsFd;
        options.onEvent = (e) => writeSync(fd, `${JSON.stringify(e)}\n`);
      }
      let historyFd: number | undefined;
      if (flags.history !== undefined) {
        try {
          historyFd = openSync(flags.history, 'w');
        } catch (err) {
          throw new UsageError(`cannot write the history to '${flags.history}': ${(err as Error).message}`);
        }
        const fd = historyFd;
        options.onHistory = (events) => events.forEach((e) => writeSync(fd, `${JSON.stringify(e)}\n`));
      }
      let result: ScenarioResult;
      try {
        result = scenario.run(options);
      } catch (err) {
        if (err instanceof SimConfigError || err instanceof RangeError) throw new UsageError(err.message);
        throw err;
      } finally {
        if (eventsFd !== undefined) closeSync(eventsFd);
        if (historyFd !== undefined) closeSync(historyFd);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : render(result, options));
      const failed = result.verdicts.filter((v) => !v.ok);
      if (failed.length > 0) throw new OperationFailed(`${failed.length} verdict(s) failed: ${failed.map((v) => v.name).join('; ')} (replay with --seed ${result.seed})`);
    });
}

function toOptions(flags: SimFlags): ScenarioOptions {
  try {
    const network: Partial<NetworkConfig> = {};
    if (flags.latency !== undefined) network.latency = { kind: 'constant', ms: flags.latency };
    if (flags.latencyDist !== undefined) network.latency = parseLatency(flags.latencyDist);
    if (flags.loss !== undefined) network.loss = flags.loss;
    if (flags.dup !== undefined) network.duplicate = flags.dup;
    const partitions: PartitionSpec[] = (flags.partition ?? []).map(parsePartition);
    const options: ScenarioOptions = { seed: flags.seed ?? randomInt(0, 2 ** 48 - 1), network, partitions };
    if (flags.crash !== undefined) options.crashes = parseCrash(flags.crash);
    for (const key of PASSED_THROUGH) if (flags[key] !== undefined) Object.assign(options, { [key]: flags[key] });
    if (flags.duration !== undefined) options.durationMs = flags.duration;
    if (flags.diskDelay !== undefined) options.diskDelayMs = flags.diskDelay;
    if (flags.interval !== undefined) {
      if (flags.interval <= 0) throw new SimConfigError('--interval must be positive');
      options.intervalMs = flags.interval;
    }
    return options;
  } catch (err) {
    if (err instanceof SimConfigError) throw new UsageError(err.message);
    throw err;
  }
}

function parseCrash(raw: string): CrashSchedule {
  const [every = '', down, ...rest] = raw.split(':');
  if (rest.length > 0) throw new SimConfigError(`--crash '${raw}': expected EVERY or EVERY:DOWN`);
  const everyMs = parseSimDuration(every);
  if (everyMs <= 0) throw new SimConfigError(`--crash '${raw}': the period must be positive`);
  return { everyMs, downMs: down === undefined ? everyMs / 2 : parseSimDuration(down) };
}

function formatValue(value: number | string | null, unit?: string): string {
  if (value === null) return '-';
  if (typeof value === 'string') return value;
  const text = Number.isInteger(value) ? String(value) : Math.abs(value) < 10 ? value.toFixed(3) : value.toFixed(1);
  return unit ? `${text} ${unit}` : text;
}

function render(result: ScenarioResult, options: ScenarioOptions): string {
  const net = { ...DEFAULT_NETWORK, ...options.network };
  const lines = [
    `scenario   ${result.scenario} (${result.nodes} nodes)`,
    `seed       ${result.seed}`,
    `trace      ${result.traceHash}`,
    `network    latency ${result.latency}, loss ${net.loss}, dup ${net.duplicate}` +
      `${options.partitions?.length ? `, partitions ${options.partitions.map((p) => p.text).join(' ')}` : ''}` +
      `${options.crashes ? `, a crash every ${options.crashes.everyMs} ms` : ''}`,
    `simulated  ${(result.virtualMs / 1000).toFixed(1)} s in ${(result.wallMs / 1000).toFixed(2)} s of wall time` +
      ` (${Math.round(((result.messages.delivered as number) / Math.max(result.wallMs, 1)) * 1000)} messages delivered per second)`,
    '',
  ];
  const width = Math.max(...result.metrics.map((m) => m.name.length));
  for (const m of result.metrics) lines.push(`  ${m.name.padEnd(width)}  ${formatValue(m.value, m.unit)}`);
  lines.push('');
  for (const v of result.verdicts) lines.push(`  ${v.ok ? 'PASS' : 'FAIL'}  ${v.name}: ${v.detail}`);
  return `${lines.join('\n')}\n`;
}
