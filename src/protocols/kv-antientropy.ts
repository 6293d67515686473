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
 */

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

/**
 * The digest of a set of (key, version) entries: one 32-bit number per
 * bucket, the XOR of the hashes of the bucket's `key@version` strings. An
 * empty bucket's digest is 0.
 */
export function digest(entries: Iterable<KeyVersion>, buckets: number): number[] {
  const out = new Array<number>(buckets).fill(0);
  for (const { key, version } of entries) {
    const b = bucketOf(key, buckets);
    out[b] = (out[b]! ^ murmur3(`${key}@${formatVersion(version)}`)) >>> 0;
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
