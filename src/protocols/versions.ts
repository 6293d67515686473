/**
 * Versions for the replicated key-value store: a hybrid logical clock (HLC)
 * with the node id as tie-breaker, and last-writer-wins that reports what it
 * overwrote.
 *
 * Every value a replica stores carries a version, so that replicas that
 * disagree can tell which value is newer. Two classic choices:
 *
 * - **Vector clocks** (Dynamo, Riak): one counter per node. They detect
 *   exactly when two writes were concurrent (neither saw the other) and then
 *   keep *both* values as siblings, which the client must merge. Nothing is
 *   lost silently — but every read may return several values, and there is no
 *   single "latest" value.
 * - **Hybrid logical clock + node id** (CockroachDB, MongoDB, YugabyteDB):
 *   a version is (wall, logical, node). `wall` follows the physical clock in
 *   milliseconds; `logical` counts events within the same millisecond, or
 *   while the local clock lags behind a timestamp already seen; the node id
 *   breaks the last ties. Versions are **totally ordered**, stay close to real
 *   time (useful to read and debug), and respect causality: if write A
 *   happened before write B (B's node had heard of A), then A < B, even when
 *   the physical clocks disagree.
 *
 * distlab uses the HLC, because the store must offer a `linearizable` mode:
 * ABD reads and writes need a totally ordered tag ("write with a tag greater
 * than any a quorum has seen; a read returns the value with the greatest
 * tag"), and the linearizability checker reasons about a register holding one
 * value at a time. Siblings fit neither. The version is also small and fixed
 * in size, whatever the number of nodes.
 *
 * The price of a total order is that concurrent writes are resolved by an
 * arbitrary (but deterministic) rule: **last writer wins** by (wall, logical,
 * node). Every replica, given the same two versions in any order, keeps the
 * same winner, so replicas converge. To keep the loss *visible*, each stored
 * value also records `seen`: the newest version its writer knew for that key
 * when it wrote (the version it meant to replace; ZERO_VERSION for a blind
 * write). With it, `causality` tells "A came before B" (B's writer had seen
 * A or something newer) from "A and B were concurrent" (neither writer had
 * seen the other), and `resolve` returns the winner together with the loser
 * and whether the loser was a concurrent write that nobody read — a lost
 * update the store reports in an event and in its answer, instead of
 * dropping it without a word.
 *
 * One caution: a node whose clock runs far ahead drags every version it
 * touches forward, and its writes win every conflict meanwhile. Real systems
 * bound the clock offset they accept (CockroachDB's max-offset); a store
 * using these functions should refuse, or at least report, versions far
 * ahead of its own clock (compare `version.wall` with `env.now()`).
 */

import { compareIds, type NodeId } from './envelope.js';

/** A version: an HLC timestamp plus the id of the node that issued it. */
export interface Version {
  /** Milliseconds, following the physical clock of the issuing node (or faster). */
  readonly wall: number;
  /** Counter that orders events sharing the same `wall`. */
  readonly logical: number;
  /** The issuing node: breaks ties, so two nodes never issue equal versions. */
  readonly node: NodeId;
}

/** A node's hybrid logical clock: the last timestamp it issued or observed. */
export interface HlcClock {
  readonly wall: number;
  readonly logical: number;
}

/** The clock before it has issued or observed anything. */
export const ZERO_CLOCK: HlcClock = { wall: 0, logical: 0 };

/** Older than every real version: "nothing written yet". */
export const ZERO_VERSION: Version = { wall: 0, logical: 0, node: '' };

/**
 * Advances the clock for a local event (a write this node coordinates).
 * If the physical clock moved forward, take it and reset the counter;
 * otherwise (same millisecond, or the clock is behind a timestamp we already
 * observed) keep `wall` and count up.
 */
export function tick(clock: HlcClock, now: number): HlcClock {
  const wall = Math.max(clock.wall, now);
  return { wall, logical: wall === clock.wall ? clock.logical + 1 : 0 };
}

/**
 * Advances the clock on hearing of a timestamp `remote` (from a message or a
 * stored version): afterwards the clock is greater than both its old value
 * and `remote`, so whatever this node does next is ordered after what it
 * heard of. `wall` is the max of the three candidates; the counter continues
 * from whichever of them supplied that max.
 */
export function observe(clock: HlcClock, remote: HlcClock, now: number): HlcClock {
  const wall = Math.max(clock.wall, remote.wall, now);
  let logical: number;
  if (wall === clock.wall && wall === remote.wall) logical = Math.max(clock.logical, remote.logical) + 1;
  else if (wall === clock.wall) logical = clock.logical + 1;
  else if (wall === remote.wall) logical = remote.logical + 1;
  else logical = 0; // the physical clock is ahead of everything seen
  return { wall, logical };
}

/**
 * The version for a new write of `node`, ordered after everything the clock
 * has issued or observed and after `seen` (the newest version of the key the
 * writer knows). Returns the advanced clock to keep, and the version.
 */
export function nextVersion(clock: HlcClock, now: number, node: NodeId, seen: Version = ZERO_VERSION): { clock: HlcClock; version: Version } {
  const advanced = compareClocks(seen, clock) > 0 ? observe(clock, seen, now) : tick(clock, now);
  return { clock: advanced, version: { wall: advanced.wall, logical: advanced.logical, node } };
}

function compareClocks(a: HlcClock, b: HlcClock): number {
  return a.wall - b.wall || a.logical - b.logical;
}

/** The total order of versions: by wall, then logical, then node id. Returns -1, 0 or 1. */
export function compareVersions(a: Version, b: Version): -1 | 0 | 1 {
  const d = compareClocks(a, b) || compareIds(a.node, b.node);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** The newer of two versions. */
export function maxVersion(a: Version, b: Version): Version {
  return compareVersions(a, b) >= 0 ? a : b;
}

/** `wall.logical@node`, e.g. `1763760000123.0@2`. */
export function formatVersion(v: Version): string {
  return `${v.wall}.${v.logical}@${v.node}`;
}

/** A stored value with its version and its writer's knowledge. */
export interface Versioned<V = unknown> {
  readonly value: V;
  readonly version: Version;
  /** The newest version of this key the writer knew when writing (ZERO_VERSION: a blind write). */
  readonly seen: Version;
}

/**
 * How two writes of one key relate in the register's history:
 * - `equal`: the same write (a version identifies exactly one write);
 * - `before`: `b`'s writer had seen `a` (or a value newer than `a`), so `a`
 *   came first and `b` meant to replace it;
 * - `after`: the other way round;
 * - `concurrent`: neither writer had seen the other.
 * (`a` cannot both be before and after `b`: a version is always greater than
 * its own `seen`.)
 */
export type Causality = 'equal' | 'before' | 'after' | 'concurrent';

export function causality(a: Versioned, b: Versioned): Causality {
  if (compareVersions(a.version, b.version) === 0) return 'equal';
  if (compareVersions(a.version, b.seen) <= 0) return 'before';
  if (compareVersions(b.version, a.seen) <= 0) return 'after';
  return 'concurrent';
}

/** What a replica keeps when two versions of a key meet, and what it drops. */
export interface Resolution<V> {
  winner: Versioned<V>;
  /** The value dropped, if the two were different writes. */
  loser?: Versioned<V>;
  /** True when the loser was a concurrent write nobody read: a lost update, to be reported. */
  concurrent: boolean;
}

/**
 * Last writer wins, by the total order of versions. Deterministic: the same
 * pair, in either order, gives the same winner on every replica.
 */
export function resolve<V>(a: Versioned<V>, b: Versioned<V>): Resolution<V> {
  const order = compareVersions(a.version, b.version);
  if (order === 0) return { winner: a, concurrent: false };
  const [winner, loser] = order > 0 ? [a, b] : [b, a];
  return { winner, loser, concurrent: causality(winner, loser) === 'concurrent' };
}

/**
 * The merge of two replicas' values: the winner of `resolve`. Because it
 * picks the maximum of a total order it is idempotent (merge(a, a) = a),
 * commutative and associative — so replicas that exchange values in any
 * order, any number of times, end up identical.
 */
export function merge<V>(a: Versioned<V>, b: Versioned<V>): Versioned<V> {
  return resolve(a, b).winner;
}

/** The newest of several values (undefined for none). */
export function newestOf<V>(values: Iterable<Versioned<V>>): Versioned<V> | undefined {
  let newest: Versioned<V> | undefined;
  for (const v of values) newest = newest === undefined ? v : merge(newest, v);
  return newest;
}
