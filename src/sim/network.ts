/**
 * The simulated network between nodes.
 *
 * Each message between two nodes is, independently: lost with probability
 * `loss`; otherwise delivered after a latency drawn from the latency
 * distribution, and with probability `duplicate` delivered a second time
 * after an independently drawn latency. Messages on one link overtake one
 * another whenever the latency varies — that is the model's reordering; a
 * constant latency keeps every link first-in first-out.
 *
 * A partition is a set of blocked directions: a rule `from -> to` drops every
 * message from a node in `from` to a node in `to` at the moment it is sent.
 * A two-way partition is two such rules. Rules are added and removed at run
 * time (see partition.ts for schedules).
 *
 * Clients (ids outside the member list) reach nodes over links with the same
 * latency but no loss, duplication or partition: the faults are between
 * servers, so a workload measures the protocol, not its own bad luck.
 */
import type { NodeId } from '../protocols/envelope.js';
import type { Rng } from './rng.js';

export type LatencyDist =
  | { kind: 'constant'; ms: number }
  | { kind: 'uniform'; min: number; max: number }
  /** `floor` plus an exponentially distributed delay with mean `mean`. */
  | { kind: 'exponential'; mean: number; floor: number };

export interface NetworkConfig {
  latency: LatencyDist;
  /** Probability that a server-to-server message is lost. */
  loss: number;
  /** Probability that a delivered server-to-server message is delivered twice. */
  duplicate: number;
}

export const DEFAULT_NETWORK: NetworkConfig = {
  latency: { kind: 'constant', ms: 10 },
  loss: 0,
  duplicate: 0,
};

/** A configuration problem (bad spec, unknown node): the CLI reports it as bad usage. */
export class SimConfigError extends Error {
  override readonly name = 'SimConfigError';
}

/** Throws SimConfigError unless the probabilities are within 0..1 and the latency is sane. */
export function validateNetwork(config: NetworkConfig): void {
  for (const [name, p] of [['loss', config.loss], ['duplicate', config.duplicate]] as const) {
    if (!(p >= 0 && p <= 1)) throw new SimConfigError(`${name} must be a probability within 0..1, got ${p}`);
  }
  const l = config.latency;
  const values = l.kind === 'constant' ? [l.ms] : l.kind === 'uniform' ? [l.min, l.max] : [l.floor, l.mean];
  if (values.some((v) => !(v >= 0 && Number.isFinite(v)))) throw new SimConfigError(`latency must be finite and >= 0: ${JSON.stringify(l)}`);
  if (l.kind === 'uniform' && l.max < l.min) throw new SimConfigError('uniform latency: max is below min');
}

export function sampleLatency(dist: LatencyDist, rng: Rng): number {
  switch (dist.kind) {
    case 'constant':
      return dist.ms;
    case 'uniform':
      return dist.min + rng.float() * (dist.max - dist.min);
    case 'exponential':
      return dist.floor + rng.exponential(dist.mean);
  }
}

export function describeLatency(dist: LatencyDist): string {
  switch (dist.kind) {
    case 'constant':
      return `${dist.ms} ms`;
    case 'uniform':
      return `uniform ${dist.min}-${dist.max} ms`;
    case 'exponential':
      return dist.floor > 0 ? `${dist.floor} ms + exponential mean ${dist.mean} ms` : `exponential mean ${dist.mean} ms`;
  }
}

/**
 * Parses `100` / `const:100`, `uniform:50-150`, `exp:100` (mean 100 ms) or
 * `exp:20+80` (20 ms floor plus exponential with mean 80 ms). Milliseconds.
 */
export function parseLatency(raw: string): LatencyDist {
  const text = raw.trim();
  const num = String.raw`(\d+(?:\.\d+)?)`;
  let m = new RegExp(`^(?:const:)?${num}$`).exec(text);
  if (m) return { kind: 'constant', ms: Number(m[1]) };
  m = new RegExp(`^uniform:${num}-${num}$`).exec(text);
  if (m) {
    const min = Number(m[1]);
    const max = Number(m[2]);
    if (max < min) throw new SimConfigError(`latency '${raw}': the upper bound is below the lower`);
    return { kind: 'uniform', min, max };
  }
  m = new RegExp(`^exp:(?:${num}\\+)?${num}$`).exec(text);
  if (m) {
    const mean = Number(m[2]);
    if (mean <= 0) throw new SimConfigError(`latency '${raw}': the mean must be positive`);
    return { kind: 'exponential', floor: m[1] === undefined ? 0 : Number(m[1]), mean };
  }
  throw new SimConfigError(`latency '${raw}': expected MS, const:MS, uniform:MIN-MAX, exp:MEAN or exp:FLOOR+MEAN (milliseconds)`);
}

/** One blocked direction set: messages from any node in `from` to any node in `to` are dropped. */
export interface BlockRule {
  readonly from: readonly NodeId[];
  readonly to: readonly NodeId[];
}

interface CompiledRule {
  from: Uint8Array;
  to: Uint8Array;
}

/** What the network does with one message. */
export type Fate = 'deliver' | 'loss' | 'partition';

/**
 * The mutable state of the network: its configuration and the active block
 * rules. A node is known by its index in the member list, so a partition
 * check is two array reads per active rule.
 */
export class NetworkModel {
  config: NetworkConfig;
  private readonly index: ReadonlyMap<NodeId, number>;
  private readonly rules = new Map<number, CompiledRule>();
  private nextRule = 1;

  constructor(
    config: NetworkConfig,
    index: ReadonlyMap<NodeId, number>,
    private readonly rng: Rng,
  ) {
    validateNetwork(config);
    this.config = config;
    this.index = index;
  }

  /** Blocks every message from a node in `rule.from` to a node in `rule.to`; returns a handle for `heal`. */
  block(rule: BlockRule): number {
    const n = this.index.size;
    const compiled = { from: new Uint8Array(n), to: new Uint8Array(n) };
    for (const id of rule.from) compiled.from[this.indexOf(id)] = 1;
    for (const id of rule.to) compiled.to[this.indexOf(id)] = 1;
    const handle = this.nextRule++;
    this.rules.set(handle, compiled);
    this.partitionVersion++;
    return handle;
  }

  /** Cuts the cluster into groups that cannot reach one another (both directions); returns the handles. */
  split(groups: readonly (readonly NodeId[])[]): number[] {
    const handles: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const others = groups.filter((_, j) => j !== i).flat();
      if (others.length > 0) handles.push(this.block({ from: groups[i] as readonly NodeId[], to: others }));
    }
    return handles;
  }

  heal(handle: number): void {
    if (this.rules.delete(handle)) this.partitionVersion++;
  }

  healAll(): void {
    if (this.rules.size > 0) this.partitionVersion++;
    this.rules.clear();
  }

  /** Goes up whenever the set of partition rules changes; observers compare it instead of rescanning links. */
  partitionVersion = 0;

  get partitioned(): boolean {
    return this.rules.size > 0;
  }

  /** Whether a message from `src` to `dest` (both servers) is blocked by a partition now. */
  blocked(src: NodeId, dest: NodeId): boolean {
    if (this.rules.size === 0) return false;
    const s = this.index.get(src);
    const d = this.index.get(dest);
    if (s === undefined || d === undefined) return false;
    for (const rule of this.rules.values()) if (rule.from[s] === 1 && rule.to[d] === 1) return true;
    return false;
  }

  /** Decides the fate of one server-to-server message. */
  judge(src: NodeId, dest: NodeId): Fate {
    if (this.blocked(src, dest)) return 'partition';
    if (this.rng.chance(this.config.loss)) return 'loss';
    return 'deliver';
  }

  duplicates(): boolean {
    return this.rng.chance(this.config.duplicate);
  }

  latency(): number {
    return sampleLatency(this.config.latency, this.rng);
  }

  private indexOf(id: NodeId): number {
    const i = this.index.get(id);
    if (i === undefined) throw new SimConfigError(`no node '${id}' in this simulation`);
    return i;
  }
}
