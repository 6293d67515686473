/**
 * Anti-entropy digests for the key-value store: how two replicas find out,
 * cheaply, which of the keys they share differ.
 *
 * Read repair fixes only keys somebody reads, and hinted handoff only writes
 * that happened while a replica was away and whose hint survived. Anything
 * else (a replica that lost its disk, a hint holder that crashed, a node that
 * joined and now owns keys it never saw) is fixed by anti-entropy: now and
 * then a node picks a peer it shares keys with, and the two compare.
 *
 * Sending every key and version would cost as much as the data itself, so
 * they first compare *digests*. The keys both nodes should hold are dropped
 * into a fixed number of buckets by the hash of the key; each bucket's digest
 * combines the hashes of its `key@version` entries with XOR, which does not
 * depend on the order the keys are visited in. Equal digests mean (with very
 * high probability) equal contents; only the buckets whose digests differ are
 * then sent in full and compared key by key. Writes younger than a settling
 * time are left out on both sides: they may still be on their way to a
 * replica, and under steady writes they would make every bucket differ. Dynamo and Cassandra go one
 * step further and arrange the buckets into a Merkle tree, so that a single
 * differing key is found by descending the tree in O(log) rounds; one flat
 * level of buckets is the same idea with the tree cut at its first layer.
 *
 * Computing the digests afresh each round costs a pass over every key, on
 * both sides, every round: with 10,000 keys that is a 10–20 ms pause of the
 * node once a second, and the pause grows with the data. XOR makes keeping
 * them up to date cheap instead (Riak's "active anti-entropy" keeps its hash
 * trees the same way): a new version of a key XORs the old entry's hash out
 * of its bucket and the new one in. `DigestIndex` below does that, so a
 * round costs in proportion to the writes of the last few seconds.
 */

import type { NodeId } from './envelope.js';
import { murmur3 } from './hashing.js';
import { formatVersion, type Version } from './versions.js';

/** A key and the version of it a replica holds. */
export interface KeyVersion {
  key: string;
  version: Version;
}

/** The bucket a key falls in. */
export function bucketOf(key: string, buckets: number): number {
  return murmur3(key) % buckets;
}

/** The hash a `key@version` entry adds to its bucket's digest. */
export function entryHash(key: string, version: Version): number {
  return murmur3(`${key}@${formatVersion(version)}`);
}

/**
 * The digest of a set of (key, version) entries: one 32-bit number per
 * bucket, the XOR of the hashes of the bucket's `key@version` strings. An
 * empty bucket's digest is 0.
 */
export function digest(entries: Iterable<KeyVersion>, buckets: number): number[] {
  const out = new Array<number>(buckets).fill(0);
  for (const { key, version } of entries) {
    const b = bucketOf(key, buckets);
    out[b] = (out[b]! ^ entryHash(key, version)) >>> 0;
  }
  return out;
}

/** The buckets whose digests differ (a digest of another length differs everywhere). */
export function differingBuckets(mine: readonly number[], theirs: readonly number[]): number[] {
  if (mine.length !== theirs.length) return mine.map((_, i) => i);
  const out: number[] = [];
  for (let i = 0; i < mine.length; i++) if (mine[i] !== theirs[i]) out.push(i);
  return out;
}

/**
 * A young key's entry in the index: the replica set it belongs to and what
 * it adds to its bucket. An entry still in the queue but no longer the one
 * `young` holds for its key was removed (or replaced) since: `advance`
 * skips it.
 */
interface IndexEntry {
  key: string;
  set: SetSums;
  bucket: number;
  hash: number;
  wall: number;
}

/** The entries of one replica set: its members, per-bucket XORs, and how many keys. */
interface SetSums {
  members: readonly NodeId[];
  sums: Uint32Array;
  keys: number;
}

/**
 * The digests of the keys a node holds, kept up to date as records change.
 *
 * A peer's digest covers the keys whose replica set (preference list)
 * includes the peer, and only versions older than the round's cut-off. So
 * the index keeps one array of bucket XORs per replica set, and a peer's
 * digest is the XOR of the arrays of the sets it belongs to. (A set is the
 * members of a preference list in any order: three nodes with N = 3 have
 * one, five have ten.)
 *
 * The cut-off is the catch: it moves forward with time, and the initiator
 * of a round chooses it. So entries are split at a `horizon` that trails
 * every cut-off a peer will plausibly send. Entries older than the horizon
 * are folded into the arrays; younger ones wait in `young`, a map as large
 * as the writes of the last few seconds, and are XORed in per digest when
 * older than its cut-off. They also wait in `queue`, in the order they
 * came, which is nearly the order of their versions: `advance` folds from
 * its front, so it costs what it folds. (An entry that came out of order is
 * folded a little late. An entry is in the arrays exactly when it is not in
 * `young`, so a late fold changes no digest.) A cut-off behind the horizon
 * (from a peer whose clock lags ours by more than the settling time) cannot
 * be answered from the index: `digestFor` says so, and the caller counts
 * the keys afresh.
 *
 * The caller reports every change of a key it holds, with the preference
 * list the ring gave for it: `remove` the old version, then `add` the new
 * one. When the ring changes, the caller `clear`s, `advance`s to the
 * horizon it uses (so that the old keys fold at once rather than queue in
 * key order) and adds every key again.
 */
export class DigestIndex {
  /** Replica sets by their sorted members. */
  private readonly sets = new Map<string, SetSums>();
  /** The set of each preference list seen (the ring hands out one shared list object per point). */
  private readonly setOfList = new Map<readonly NodeId[], SetSums>();
  private readonly young = new Map<string, IndexEntry>();
  private queue: IndexEntry[] = [];
  private head = 0;
  private horizon = -Infinity;

  constructor(readonly buckets: number) {}

  clear(): void {
    this.sets.clear();
    this.setOfList.clear();
    this.young.clear();
    this.queue = [];
    this.head = 0;
  }

  /** A key the index does not hold yet (`remove` its old version first). */
  add(key: string, list: readonly NodeId[], version: Version): void {
    if (this.young.has(key)) throw new Error(`digest index: '${key}' is already young; remove it first`);
    const set = this.setOf(list);
    set.keys++;
    const bucket = bucketOf(key, this.buckets);
    const hash = entryHash(key, version);
    if (version.wall < this.horizon) {
      set.sums[bucket]! ^= hash;
      return;
    }
    const entry: IndexEntry = { key, set, bucket, hash, wall: version.wall };
    this.young.set(key, entry);
    this.queue.push(entry);
  }

  /** Takes out what `add(key, list, version)` put in: the same list and version. */
  remove(key: string, list: readonly NodeId[], version: Version): void {
    const set = this.setOf(list);
    set.keys--;
    if (!this.young.delete(key)) {
      set.sums[bucketOf(key, this.buckets)]! ^= entryHash(key, version);
    }
  }

  /** Folds the entries older than `horizon` into their sets' arrays. The horizon only moves forward. */
  advance(horizon: number): void {
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    const queue = this.queue;
    for (; this.head < queue.length; this.head++) {
      const entry = queue[this.head]!;
      if (this.young.get(entry.key) !== entry) continue;
      if (entry.wall >= horizon) break;
      entry.set.sums[entry.bucket]! ^= entry.hash;
      this.young.delete(entry.key);
    }
    // Drop the folded front now and then, rather than shifting at every fold.
    if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
  }

  /** The nodes other than `self` this node shares at least one key with, sorted. */
  peers(self: NodeId): NodeId[] {
    const out = new Set<NodeId>();
    for (const set of this.sets.values()) {
      if (set.keys > 0) for (const node of set.members) if (node !== self) out.add(node);
    }
    return [...out].sort();
  }

  /**
   * What `digest` would compute over the keys shared with `peer` whose
   * versions are older than `before`; undefined when `before` is behind the
   * horizon and the index cannot tell.
   */
  digestFor(peer: NodeId, before: number): number[] | undefined {
    if (before < this.horizon) return undefined;
    const out = new Uint32Array(this.buckets);
    for (const set of this.sets.values()) {
      if (!set.members.includes(peer)) continue;
      for (let b = 0; b < this.buckets; b++) out[b]! ^= set.sums[b]!;
    }
    for (const entry of this.young.values()) {
      if (entry.wall < before && entry.set.members.includes(peer)) out[entry.bucket]! ^= entry.hash;
    }
    return Array.from(out);
  }

  private setOf(list: readonly NodeId[]): SetSums {
    let set = this.setOfList.get(list);
    if (set) return set;
    const members = [...list].sort();
    const name = members.join('\u0000');
    set = this.sets.get(name);
    if (!set) this.sets.set(name, (set = { members, sums: new Uint32Array(this.buckets), keys: 0 }));
    this.setOfList.set(list, set);
    return set;
  }
}
