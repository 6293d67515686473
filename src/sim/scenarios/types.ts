/**
 * What a scenario is: a named, seeded experiment on a simulated cluster that
 * ends in figures and verdicts. `distlab sim <scenario>` looks scenarios up
 * in ./index.ts; adding one is one file plus one line there.
 */
import type { HistoryEvent } from '../../check/history.js';
import type { StampedEvent } from '../../protocols/env.js';
import type { CrashSchedule, PartitionSpec } from '../faults.js';
import type { NetworkConfig } from '../network.js';

export interface ScenarioOptions {
  seed: number;
  /** Cluster size; the scenario's default if absent. */
  nodes?: number;
  /** Overrides of the scenario's network defaults. */
  network?: Partial<NetworkConfig>;
  partitions?: readonly PartitionSpec[];
  crashes?: CrashSchedule;
  /** Virtual ms from a storage write until it is durable (the world's default if absent). */
  diskDelayMs?: number;
  /** Length of the workload-and-faults phase in virtual ms; the scenario's default if absent. */
  durationMs?: number;
  /** Client operations per second during the workload phase; the scenario's default if absent. */
  rate?: number;
  /** Protocol tuning a scenario may honour (gossip: fanout, interval, mode). */
  fanout?: number;
  intervalMs?: number;
  mode?: string;
  /** Election: 'bully' or 'lowest'. */
  algorithm?: string;
  /** Membership: nodes know only one seed (node 1) and join through it. */
  join?: boolean;
  /** kv: 'quorum' or 'linearizable'. */
  consistency?: string;
  /** kv: concurrent client processes, and keys they work on. */
  clients?: number;
  keys?: number;
  /** Receives the client history (kv) once, at the end of the run. */
  onHistory?: (history: readonly HistoryEvent[]) => void;
  /** Receives every event of the run. */
  onEvent?: (event: StampedEvent) => void;
}

export interface Metric {
  name: string;
  value: number | string | null;
  unit?: string;
}

export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  seed: number;
  nodes: number;
  traceHash: string;
  /** The latency distribution the run used, in words. */
  latency: string;
  /** Virtual milliseconds simulated. */
  virtualMs: number;
  /** Wall-clock milliseconds the run took. */
  wallMs: number;
  metrics: Metric[];
  verdicts: Verdict[];
  /** Message counters (MessageStats.toJSON()). */
  messages: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  /** One line for `distlab sim --help`. */
  summary: string;
  defaultNodes: number;
  defaultDurationMs: number;
  run(options: ScenarioOptions): ScenarioResult;
}
