/**
 * Sharding: which node holds a key — and how many keys move when the cluster
 * changes size.
 *
 * A store too big for one machine splits its keys over several nodes. Every
 * node (and client) must agree on where a key lives without asking anyone,
 * so placement is a pure function of the key and the list of nodes. Two
 * classic answers, behind one `Partitioner` interface:
 *
 * - **Modulo** (`ModuloStrategy`): node = nodes[hash(key) mod n]. Simple and
 *   perfectly even, but the placement depends on n itself: going from 3 to 4
 *   nodes, a key stays put only if hash mod 3 and hash mod 4 pick the same
 *   slot, which happens for 3 residues out of 12 — so about 75% of all keys
 *   move, although only 25% needed to (to fill the new node).
 *
 * - **Consistent hashing** (`ConsistentHashRing`): picture the hash space
 *   0 .. 2^32-1 as a circle. Each node is hashed onto the circle at several
 *   points (its *virtual nodes*, "1#0", "1#1", ...); a key belongs to the
 *   first point clockwise from the key's own hash. Adding a node only takes
 *   over the arcs just before its new points — about 1/(n+1) of the keys, the
 *   minimum — and every other key stays where it was. Removing a node hands
 *   its arcs to the next points clockwise. With one point per node the arcs
 *   are very uneven (one node might own half the circle); with many virtual
 *   nodes per node each node owns many small arcs and the load evens out
 *   (the spread shrinks roughly like 1/sqrt(vnodes)).
 *
 * Replication uses the same circle: a key's *preference list* of length N is
 * the first N **distinct physical** nodes met walking clockwise from the key
 * (skipping further virtual nodes of a node already chosen). The first is
 * the owner; the others hold the replicas. This is Dynamo's scheme.
 *
 * That walk depends only on the point the key lands on, not on the key: all
 * the keys of one arc share one preference list. So the ring remembers the
 * list it walked from each point (per list length asked for), and the next
 * key landing on that point costs one hash, one binary search and one array
 * read. A store asks for the replicas of every key it holds on every
 * anti-entropy round, so this pays; adding or removing a node forgets them.
 */

import { murmur3, RING_SIZE } from './hashing.js';
import type { NodeId } from './envelope.js';

/** Where keys live. Both strategies answer the same questions. */
export interface Partitioner {
  readonly strategy: 'modulo' | 'consistent';
  /** The physical nodes, in the order they were added. */
  nodes(): readonly NodeId[];
  /** Adds a node (no-op if it is already there). */
  addNode(node: NodeId): void;
  /** Removes a node (no-op if it is not there). */
  removeNode(node: NodeId): void;
  /** The node responsible for `key`. Throws if there are no nodes. */
  ownerOf(key: string): NodeId;
  /**
   * The first `n` distinct physical nodes responsible for `key`, owner
   * first. Returns fewer than `n` when the cluster has fewer nodes. The
   * list may be shared between calls: copy it before changing it.
   */
  preferenceList(key: string, n: number): readonly NodeId[];
}

export interface RingConfig {
  /**
   * Virtual nodes (points on the circle) per physical node. More points give
   * a more even load and keys-moved closer to the ideal, at the cost of a
   * bigger table (nodes × vnodes points, searched in O(log) time). 160 keeps
   * the 3→4 movement of 1000 keys within 27% (see docs/sharding.md).
   */
  vnodes: number;
}

export const DEFAULT_RING_CONFIG: RingConfig = { vnodes: 160 };

function noNodes(): never {
  throw new Error('the partitioner has no nodes');
}

/**
 * hash(key) mod n. Kept for comparison: it shows why consistent hashing
 * exists. Its preference list is the owner followed by the next nodes in
 * list order.
 */
export class ModuloStrategy implements Partitioner {
  readonly strategy = 'modulo' as const;
  private readonly members: NodeId[] = [];

  constructor(nodes: readonly NodeId[] = []) {
    for (const node of nodes) this.addNode(node);
  }

  nodes(): readonly NodeId[] {
    return this.members;
  }

  addNode(node: NodeId): void {
    if (!this.members.includes(node)) this.members.push(node);
  }

  removeNode(node: NodeId): void {
    const at = this.members.indexOf(node);
    if (at >= 0) this.members.splice(at, 1);
  }

  ownerOf(key: string): NodeId {
    return this.members[this.slotOf(key)] ?? noNodes();
  }

  preferenceList(key: string, n: number): readonly NodeId[] {
    if (this.members.length === 0) noNodes();
    const first = this.slotOf(key);
    const count = Math.min(n, this.members.length);
    return Array.from({ length: count }, (_, i) => this.members[(first + i) % this.members.length]!);
  }

  private slotOf(key: string): number {
    return murmur3(key) % this.members.length;
  }
}

/** One virtual node: a point on the circle that belongs to a physical node. */
export interface RingPoint {
  position: number;
  node: NodeId;
}

/** The name hashed to place virtual node `i` of `node` on the circle. */
export function vnodeName(node: NodeId, i: number): string {
  return `${node}#${i}`;
}

/** The consistent-hashing ring with virtual nodes. */
export class ConsistentHashRing implements Partitioner {
  readonly strategy = 'consistent' as const;
  readonly config: RingConfig;
  private readonly members: NodeId[] = [];
  /** Every virtual node, sorted by position (ties by node id, so the order never depends on insertion). */
  private points: RingPoint[] = [];
  /**
   * Preference lists walked so far, per list length: entry i (filled on
   * first use) is the list of every key that lands on point i. Emptied
   * whenever the points change.
   */
  private readonly lists = new Map<number, Array<readonly NodeId[] | undefined>>();

  constructor(nodes: readonly NodeId[] = [], config: Partial<RingConfig> = {}) {
    this.config = { ...DEFAULT_RING_CONFIG, ...config };
    if (!Number.isInteger(this.config.vnodes) || this.config.vnodes < 1) {
      throw new Error(`vnodes must be a positive integer, got ${this.config.vnodes}`);
    }
    // Place every node's points, then sort once (addNode sorts per node).
    for (const node of nodes) this.place(node);
    this.sortPoints();
  }

  nodes(): readonly NodeId[] {
    return this.members;
  }

  /** The circle's points, in clockwise order (for views and tests). */
  ring(): readonly RingPoint[] {
    return this.points;
  }

  addNode(node: NodeId): void {
    if (!this.place(node)) return;
    this.sortPoints();
    this.lists.clear();
  }

  /** Adds a node's virtual points unsorted; false if it was already there. */
  private place(node: NodeId): boolean {
    if (this.members.includes(node)) return false;
    this.members.push(node);
    for (let i = 0; i < this.config.vnodes; i++) {
      this.points.push({ position: murmur3(vnodeName(node, i)), node });
    }
    return true;
  }

  private sortPoints(): void {
    this.points.sort((a, b) => a.position - b.position || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  removeNode(node: NodeId): void {
    if (!this.members.includes(node)) return;
    this.members.splice(this.members.indexOf(node), 1);
    this.points = this.points.filter((p) => p.node !== node);
    this.lists.clear();
  }

  ownerOf(key: string): NodeId {
    if (this.points.length === 0) noNodes();
    return this.points[this.firstPointAtOrAfter(murmur3(key))]!.node;
  }

  /** The key's preference list: walked from the key's point once, then remembered (and frozen: it is shared). */
  preferenceList(key: string, n: number): readonly NodeId[] {
    if (this.points.length === 0) noNodes();
    const wanted = Math.min(n, this.members.length);
    let walked = this.lists.get(wanted);
    if (!walked) {
      walked = new Array<readonly NodeId[] | undefined>(this.points.length);
      this.lists.set(wanted, walked);
    }
    const start = this.firstPointAtOrAfter(murmur3(key));
    return (walked[start] ??= Object.freeze(this.walk(start, wanted)));
  }

  /**
   * The first `wanted` distinct nodes met walking clockwise from point
   * `start`, skipping nodes already chosen; at most once around the circle.
   */
  private walk(start: number, wanted: number): NodeId[] {
    const chosen: NodeId[] = [];
    for (let step = 0; step < this.points.length && chosen.length < wanted; step++) {
      const node = this.points[(start + step) % this.points.length]!.node;
      if (!chosen.includes(node)) chosen.push(node);
    }
    return chosen;
  }

  /**
   * Index of the first point whose position is >= `position`, wrapping to
   * index 0 past the top of the circle. Binary search over sorted points.
   */
  private firstPointAtOrAfter(position: number): number {
    let lo = 0;
    let hi = this.points.length; // answer is in [lo, hi]; hi means "wrap around"
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.position < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }

  /**
   * The fraction of the circle each node owns (sums to 1): a point owns the
   * arc from the previous point (exclusive) up to itself.
   */
  ownership(): Map<NodeId, number> {
    const share = new Map<NodeId, number>(this.members.map((m) => [m, 0]));
    this.points.forEach((point, i) => {
      const previous = i === 0 ? this.points[this.points.length - 1]!.position - RING_SIZE : this.points[i - 1]!.position;
      share.set(point.node, share.get(point.node)! + (point.position - previous) / RING_SIZE);
    });
    return share;
  }
}

export type Strategy = Partitioner['strategy'];

/** Builds a partitioner of either kind over `nodes`. */
export function partitioner(strategy: Strategy, nodes: readonly NodeId[], config: Partial<RingConfig> = {}): Partitioner {
  return strategy === 'modulo' ? new ModuloStrategy(nodes) : new ConsistentHashRing(nodes, config);
}

// ---------------------------------------------------------------------------
// Measuring a partitioner: how many keys move, and how even the load is.

/** The keys `owner` is responsible for, counted per node (every node listed, even with 0). */
export function keysPerNode(p: Partitioner, keys: readonly string[]): Map<NodeId, number> {
  const counts = new Map<NodeId, number>(p.nodes().map((node) => [node, 0]));
  for (const key of keys) {
    const owner = p.ownerOf(key);
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

export interface LoadSpread {
  nodes: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation of keys per node. */
  stddev: number;
}

/** Min / max / mean / standard deviation of keys per node. */
export function loadSpread(perNode: ReadonlyMap<NodeId, number>): LoadSpread {
  const counts = [...perNode.values()];
  if (counts.length === 0) return { nodes: 0, min: 0, max: 0, mean: 0, stddev: 0 };
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const variance = counts.reduce((acc, c) => acc + (c - mean) ** 2, 0) / counts.length;
  return { nodes: counts.length, min: Math.min(...counts), max: Math.max(...counts), mean, stddev: Math.sqrt(variance) };
}

/** The keys whose owner differs between two placements. */
export function movedKeys(before: Partitioner, after: Partitioner, keys: readonly string[]): string[] {
  return keys.filter((key) => before.ownerOf(key) !== after.ownerOf(key));
}

/**
 * The least fraction of keys any placement must move when the cluster goes
 * from `from` to `to` equally loaded nodes: growing, the new nodes must
 * receive their share (to-from)/to; shrinking, the leaving nodes' share
 * (from-to)/from must go elsewhere.
 */
export function idealMovedFraction(from: number, to: number): number {
  return Math.abs(to - from) / Math.max(from, to);
}

/** Node ids "1" .. "n", the naming of the workshop's nodes. */
export function numberedNodes(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => String(i + 1));
}

/** Keys like the handout's: user_0 .. user_{n-1}. */
export function sampleKeys(n: number, prefix = 'user_'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

export interface RebalanceReport {
  strategy: Strategy;
  keys: number;
  from: number;
  to: number;
  moved: number;
  /** moved / keys. */
  movedFraction: number;
  idealFraction: number;
  before: LoadSpread;
  after: LoadSpread;
  /**
   * Consistent hashing only: the fraction of the circle that changed hands
   * (the arcs of the nodes added or removed). It is the fraction of keys
   * expected to move; `movedFraction` is what one sample of keys shows.
   */
  ringShareMoved?: number;
}

/**
 * Resizes a cluster of nodes "1".."from" to "1".."to" (adding or removing the
 * highest-numbered nodes) and reports how many keys changed owner and how
 * even the load was before and after.
 */
export function rebalance(strategy: Strategy, keys: readonly string[], from: number, to: number, config: Partial<RingConfig> = {}): RebalanceReport {
  const before = partitioner(strategy, numberedNodes(from), config);
  const after = partitioner(strategy, numberedNodes(from), config);
  for (const node of numberedNodes(to).slice(from)) after.addNode(node);
  for (const node of numberedNodes(from).slice(to)) after.removeNode(node);
  const moved = movedKeys(before, after, keys).length;
  const changed = from < to ? numberedNodes(to).slice(from) : numberedNodes(from).slice(to);
  const larger = from < to ? after : before;
  const report: RebalanceReport = {
    strategy,
    keys: keys.length,
    from,
    to,
    moved,
    movedFraction: keys.length === 0 ? 0 : moved / keys.length,
    idealFraction: idealMovedFraction(from, to),
    before: loadSpread(keysPerNode(before, keys)),
    after: loadSpread(keysPerNode(after, keys)),
  };
  if (larger instanceof ConsistentHashRing) {
    const share = larger.ownership();
    report.ringShareMoved = changed.reduce((sum, node) => sum + (share.get(node) ?? 0), 0);
  }
  return report;
}
