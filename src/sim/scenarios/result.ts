/**
 * What every scenario's run has in common at both ends, so a scenario file
 * writes only what is special about it: the world it starts (its protocol on
 * nodes 1..n, with the options' network, disk delay, event hook, partitions
 * and crashes), and the result it ends with (the header, the message
 * counters, latency quantiles).
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { ProtocolFactory, StampedEvent } from '../../protocols/env.js';
import { scheduleCrashes, schedulePartitions } from '../faults.js';
import { describeLatency, type NetworkConfig } from '../network.js';
import { ascending, maxOf, nearestRank } from '../stats.js';
import { World } from '../world.js';
import { FaultLog } from './observe.js';
import type { Metric, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export interface WorldSpec {
  nodes: readonly NodeId[];
  protocols: ProtocolFactory[];
  /** The options' partitions and crashes are scheduled over [0, faultEndMs]. */
  faultEndMs: number;
  /** The network, when the scenario has its own defaults under the options' overrides. */
  network?: Partial<NetworkConfig>;
  onEvent?: (event: StampedEvent) => void;
}

/** A world for the options, its faults scheduled. */
export function scenarioWorld(options: ScenarioOptions, spec: WorldSpec): World {
  const world = newWorld(options, spec);
  scheduleFaults(world, options, spec.faultEndMs);
  return world;
}

/** A world for the options with a FaultLog recording its faults (sampling before they are scheduled). */
export function observedWorld(options: ScenarioOptions, spec: WorldSpec): { world: World; faults: FaultLog } {
  const world = newWorld(options, spec);
  const faults = new FaultLog(world, spec.faultEndMs);
  scheduleFaults(world, options, spec.faultEndMs);
  return { world, faults };
}

function newWorld(options: ScenarioOptions, spec: WorldSpec): World {
  return new World({
    seed: options.seed,
    nodes: spec.nodes,
    protocols: spec.protocols,
    network: spec.network ?? options.network,
    onEvent: spec.onEvent,
    diskDelayMs: options.diskDelayMs,
  });
}

function scheduleFaults(world: World, options: ScenarioOptions, faultEndMs: number): void {
  schedulePartitions(world, options.partitions ?? [], faultEndMs);
  if (options.crashes) scheduleCrashes(world, options.crashes, faultEndMs);
}

/** The result of a run: the header read from the world now, then the scenario's own metrics and verdicts. */
export function scenarioResult(
  scenario: string,
  options: ScenarioOptions,
  run: { nodes: number; world: World; wallStart: number; metrics: Metric[]; verdicts: Verdict[] },
): ScenarioResult {
  const { world } = run;
  return {
    scenario,
    seed: options.seed,
    nodes: run.nodes,
    traceHash: world.traceHash(),
    latency: describeLatency(world.network.config.latency),
    virtualMs: world.now,
    wallMs: performance.now() - run.wallStart,
    metrics: run.metrics,
    verdicts: run.verdicts,
    messages: world.stats.toJSON(),
  };
}

/** The message counters a result reports, read at one instant. */
export interface MessageCounts {
  /** Server-to-server messages sent. */
  sent: number;
  /** Drops as `loss/partition/crash`. */
  dropped: string;
}

export function messageCounts(world: World): MessageCounts {
  const s = world.stats;
  return { sent: s.servers.sent, dropped: `${s.dropped.loss}/${s.dropped.partition}/${s.dropped.crash}` };
}

/** A figure derived from the server-to-server messages sent. */
export type MessageRate = (sent: number) => Metric;

/** Messages per operation (per round, ...), null without operations. */
export function perOp(ops: number, name = 'msgs-per-op'): MessageRate {
  return (sent) => ({ name, value: ops > 0 ? sent / ops : null });
}

/** Messages per node per second of virtual time. */
export function perNodePerSecond(nodes: number, virtualMs: number): MessageRate {
  return (sent) => ({ name: 'messages per node per second', value: virtualMs > 0 ? sent / nodes / (virtualMs / 1000) : null });
}

/** `messages (server-to-server)`, the rates, then `dropped (loss/partition/crash)`. */
export function messageMetrics(counts: MessageCounts | World, ...rates: MessageRate[]): Metric[] {
  const c = counts instanceof World ? messageCounts(counts) : counts;
  return [{ name: 'messages (server-to-server)', value: c.sent }, ...rates.map((rate) => rate(c.sent)), { name: 'dropped (loss/partition/crash)', value: c.dropped }];
}

const QUANTILES = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;
export type Mark = keyof typeof QUANTILES | 'max';

/** `<label> p50`, `<label> p95`, `<label> max` (or the marks asked for) of `values`, in ms. */
export function latencyMetrics(label: string, values: readonly number[], marks: readonly Mark[] = ['p50', 'p95', 'max']): Metric[] {
  const sorted = ascending(values);
  return marks.map((mark) => ({ name: `${label} ${mark}`, value: mark === 'max' ? maxOf(sorted) : nearestRank(sorted, QUANTILES[mark]), unit: 'ms' }));
}
