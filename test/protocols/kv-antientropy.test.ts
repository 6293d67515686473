import { describe, expect, it } from 'vitest';
import { bucketOf, differingBuckets, digest, type KeyVersion } from '../../src/protocols/kv-antientropy.js';

const v = (wall: number, node = '1') => ({ wall, logical: 0, node });
const entries: KeyVersion[] = Array.from({ length: 200 }, (_, i) => ({ key: `user_${i}`, version: v(100 + i) }));

describe('anti-entropy digests', () => {
  it('do not depend on the order keys are visited in', () => {
    expect(digest([...entries].reverse(), 16)).toEqual(digest(entries, 16));
  });

  it('differ exactly in the bucket of a key whose version differs, or that is missing', () => {
    const changed = entries.map((e) => (e.key === 'user_7' ? { ...e, version: v(999) } : e));
    expect(differingBuckets(digest(entries, 16), digest(changed, 16))).toEqual([bucketOf('user_7', 16)]);
    const missing = entries.filter((e) => e.key !== 'user_42');
    expect(differingBuckets(digest(entries, 16), digest(missing, 16))).toEqual([bucketOf('user_42', 16)]);
    expect(differingBuckets(digest(entries, 16), digest(entries, 16))).toEqual([]);
  });

  it('treat a digest of another size as different everywhere, and give empty buckets 0', () => {
    expect(differingBuckets(digest(entries, 16), digest(entries, 8))).toHaveLength(16);
    expect(digest([], 4)).toEqual([0, 0, 0, 0]);
  });

  it('spread keys over the buckets', () => {
    const used = new Set(entries.map((e) => bucketOf(e.key, 16)));
    expect(used.size).toBe(16);
  });
});
