/**
 * What the protocol scenarios (ring, broadcast-all, broadcast-structured,
 * election, membership, registry) share: a record of when each node was down
 * and which links a partition cut, so a verdict can ask "was this node really
 * down (or cut off) when it was given up on?"; a poll with a deadline for the
 * liveness phase; and the high end of the latency distribution, from which
 * the scenarios scale protocol timeouts.
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import type { LatencyDist } from '../network.js';
import type { World } from '../world.js';

/**
 * A one-way latency that messages rarely exceed: the constant, the top of a
 * uniform range, or floor + 3 × mean of an exponential (95 % of draws).
 */
export function latencyCeiling(dist: LatencyDist): number {
  switch (dist.kind) {
    case 'constant':
      return dist.ms;
    case 'uniform':
      return dist.max;
    case 'exponential':
      return dist.floor + 3 * dist.mean;
  }
}

/**
 * Up/down history of every node and the partition state of every link,
 * sampled every `stepMs` of the fault phase (partitions change only at
 * scheduled instants, so a fine sample misses nothing that lasts a step).
 */
export class FaultLog {
  /** node -> [downAt, upAt | Infinity] intervals. */
  private readonly down = new Map<NodeId, Array<[number, number]>>();
  /** Samples of the cut links: [time, Set of `${from}>${to}`], recorded when the set changes. */
  private readonly cuts: Array<[number, Set<string>]> = [[0, new Set()]];
  /** The network's partitionVersion at the last sample: unchanged means the cuts are too. */
  private seenPartitionVersion = 0;

  constructor(
    private readonly world: World,
    faultEndMs: number,
    stepMs = 10,
  ) {
    for (let t = 0; t <= faultEndMs; t += stepMs) world.at(t, () => this.sample());
  }

  /** Feed every event of the run through this (it reads `sim.crashed` / `sim.restarted`). */
  onEvent(e: StampedEvent): void {
    if (e.type === 'sim.crashed') {
      let list = this.down.get(e.node);
      if (!list) this.down.set(e.node, (list = []));
      list.push([e.time, Infinity]);
    } else if (e.type === 'sim.restarted') {
      const last = this.down.get(e.node)?.at(-1);
      if (last && last[1] === Infinity) last[1] = e.time;
    }
  }

  /** Whether `id` was down at any moment of [from, to]. */
  downDuring(id: NodeId, from: number, to: number): boolean {
    return (this.down.get(id) ?? []).some(([a, b]) => a <= to && b >= from);
  }

  /** The crash intervals of `id` so far. */
  crashes(id: NodeId): ReadonlyArray<readonly [number, number]> {
    return this.down.get(id) ?? [];
  }

  /** Whether a partition cut a or b from the other (either direction) at any sample in [from, to]. */
  cutDuring(a: NodeId, b: NodeId, from: number, to: number): boolean {
    for (let i = 0; i < this.cuts.length; i++) {
      const [t, set] = this.cuts[i] as [number, Set<string>];
      const until = (this.cuts[i + 1]?.[0] ?? Infinity) - 1;
      if (t > to || until < from) continue;
      if (set.has(`${a}>${b}`) || set.has(`${b}>${a}`)) return true;
    }
    return false;
  }

  /** Whether any link was cut at any sample in [from, to]. */
  partitionedDuring(from: number, to: number): boolean {
    for (let i = 0; i < this.cuts.length; i++) {
      const [t, set] = this.cuts[i] as [number, Set<string>];
      const until = (this.cuts[i + 1]?.[0] ?? Infinity) - 1;
      if (t <= to && until >= from && set.size > 0) return true;
    }
    return false;
  }

  private sample(): void {
    const net = this.world.network;
    if (net.partitionVersion === this.seenPartitionVersion) return; // no rule changed: same cuts
    this.seenPartitionVersion = net.partitionVersion;
    const set = new Set<string>();
    if (net.partitioned) {
      for (const a of this.world.members) for (const b of this.world.members) if (a !== b && net.blocked(a, b)) set.add(`${a}>${b}`);
    }
    const last = this.cuts.at(-1)?.[1] as Set<string>;
    if (set.size !== last.size || [...set].some((k) => !last.has(k))) this.cuts.push([this.world.now, set]);
  }
}

/**
 * Liveness: runs the world in steps of `stepMs` until `done()` holds or
 * `boundMs` have passed; returns how long it took, or null.
 */
export function pollUntil(world: World, boundMs: number, stepMs: number, done: () => boolean): number | null {
  const start = world.now;
  for (let t = 0; t <= boundMs; t += stepMs) {
    world.runUntil(start + t);
    if (done()) return world.now - start;
  }
  return null;
}

/** "3 of 5: 1, 2, 4" — a short list for verdict details. */
export function listSome(items: readonly string[], max = 3): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, … (${items.length} in all)`;
}
