/**
 * Quorum arithmetic: the small pure decisions a coordinator of a replicated
 * read or write makes while replies come in.
 *
 * A key lives on N replicas. A write is acknowledged once W of them have
 * stored it; a read answers once R of them have replied. If R + W > N, every
 * read quorum shares at least one replica with every write quorum, so a read
 * always hears from someone who has the latest acknowledged write — the
 * coordinator then returns the *newest* version among the replies (by the
 * total order of versions.ts). Replicas that answered with an older version,
 * or with nothing, are *stale*: read repair sends them the newest value.
 *
 * The coordinator need not wait for every reply: once W (or R) replies said
 * yes the quorum is met; once so many said no (or timed out) that the rest
 * could not reach W any more, it has failed and can answer "quorum not met"
 * at once. Until then it is pending.
 *
 * With the defaults N=3, R=2, W=2 the store survives one replica down for
 * reads and writes alike — the handout's availability module: kill one node
 * and both still succeed; kill two and R=2 cannot be met.
 */

import type { NodeId } from './envelope.js';
import { compareVersions, type Versioned } from './versions.js';

export interface QuorumConfig {
  /** Replicas per key (the length of the preference list). */
  n: number;
  /** Replies a read waits for. */
  r: number;
  /** Acknowledgements a write waits for. */
  w: number;
}

export const DEFAULT_QUORUM_CONFIG: QuorumConfig = { n: 3, r: 2, w: 2 };

/** What is wrong with a quorum configuration, or undefined if it is usable. */
export function quorumConfigProblem(config: QuorumConfig): string | undefined {
  const { n, r, w } = config;
  if (!Number.isInteger(n) || n < 1) return `n must be a positive integer, got ${n}`;
  if (!Number.isInteger(r) || r < 1 || r > n) return `r must be an integer from 1 to n=${n}, got ${r}`;
  if (!Number.isInteger(w) || w < 1 || w > n) return `w must be an integer from 1 to n=${n}, got ${w}`;
  return undefined;
}

/**
 * True when every read quorum intersects every write quorum (R + W > N), so
 * a read sees the latest acknowledged write. R=1, W=1 is fast but may read
 * stale values.
 */
export function readsSeeWrites(config: QuorumConfig): boolean {
  return config.r + config.w > config.n;
}

/** The smallest majority of n: floor(n/2) + 1. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

export type QuorumState = 'met' | 'failed' | 'pending';

/**
 * Where a quorum stands: `needed` yeses out of `total` replicas, of which
 * `acks` said yes and `failures` said no or timed out so far.
 */
export function quorumState(needed: number, total: number, acks: number, failures: number): QuorumState {
  if (acks >= needed) return 'met';
  if (total - failures < needed) return 'failed'; // even if every remaining replica said yes
  return 'pending';
}

/** One replica's answer to a read: its value for the key, or undefined if it has none. */
export interface ReplicaReply<V = unknown> {
  replica: NodeId;
  value: Versioned<V> | undefined;
}

/** The newest value among the replies, and which replicas hold exactly that version. */
export interface Newest<V> {
  value: Versioned<V>;
  replicas: NodeId[];
}

/**
 * The newest value among the replies (the greatest version; the first of
 * equal ones), and which replicas hold it; undefined when no replica has one.
 */
export function newest<V>(replies: readonly ReplicaReply<V>[]): Newest<V> | undefined {
  let value: Versioned<V> | undefined;
  for (const r of replies) {
    if (r.value !== undefined && (value === undefined || compareVersions(r.value.version, value.version) > 0)) value = r.value;
  }
  if (value === undefined) return undefined;
  const replicas: NodeId[] = [];
  for (const r of replies) {
    if (r.value !== undefined && compareVersions(r.value.version, value.version) === 0) replicas.push(r.replica);
  }
  return { value, replicas };
}

/**
 * The replicas to bring up to date by read repair: those that answered with
 * an older version than the newest, or with nothing while another replica
 * has a value. (`best` is `newest(replies)`, if the caller has it already.)
 */
export function staleReplicas<V>(replies: readonly ReplicaReply<V>[], best = newest(replies)): NodeId[] {
  if (best === undefined) return [];
  const stale: NodeId[] = [];
  for (const r of replies) {
    if (r.value === undefined || compareVersions(r.value.version, best.value.version) < 0) stale.push(r.replica);
  }
  return stale;
}
