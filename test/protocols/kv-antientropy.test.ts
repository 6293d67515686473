import { describe, expect, it } from 'vitest';
import { bucketOf, differingBuckets, digest, DigestIndex, type KeyVersion } from '../../src/protocols/kv-antientropy.js';
import { Rng } from '../../src/sim/rng.js';

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

describe('the digest index', () => {
  // Three replica sets of a five-node ring, as the ring hands them out: shared list objects.
  const sets = [Object.freeze(['1', '2', '3']), Object.freeze(['1', '3', '4']), Object.freeze(['1', '4', '5'])];

  it('matches digests computed afresh through random writes, overwrites, removals and moving horizons (50 seeds)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = Rng.stream(seed, 'digest-index');
      const index = new DigestIndex(16);
      const held = new Map<string, { list: readonly string[]; version: ReturnType<typeof v> }>();
      let now = 1000;
      let horizon = 0;
      for (let step = 0; step < 400; step++) {
        now += rng.int(20);
        const key = `k${rng.int(60)}`;
        const old = held.get(key);
        if (old) index.remove(key, old.list, old.version);
        if (rng.chance(0.15)) {
          held.delete(key);
        } else {
          // Mostly fresh versions; now and then an old one (a record pulled by anti-entropy or handed off).
          const version = v(rng.chance(0.2) ? now - rng.int(2000) : now);
          const list = old?.list ?? sets[rng.int(sets.length)]!;
          index.add(key, list, version);
          held.set(key, { list, version });
        }
        if (rng.chance(0.1)) {
          // A horizon behind the last one is ignored: it only moves forward.
          const h = now - 500 - rng.int(500);
          index.advance(h);
          horizon = Math.max(horizon, h);
        }
        if (step % 10 === 0) {
          const peer = String(2 + rng.int(4));
          const before = horizon + rng.int(1000);
          const shared = [...held].filter(([, e]) => e.list.includes(peer) && e.version.wall < before).map(([key, e]) => ({ key, version: e.version }));
          expect(index.digestFor(peer, before), `seed ${seed} step ${step}`).toEqual(digest(shared, 16));
        }
      }
    }
  });

  it('cannot answer for a cut-off behind its horizon', () => {
    const index = new DigestIndex(8);
    index.add('a', sets[0]!, v(100));
    index.advance(500);
    expect(index.digestFor('2', 499)).toBeUndefined();
    expect(index.digestFor('2', 500)).toEqual(digest([{ key: 'a', version: v(100) }], 8));
  });

  it('lists the peers it shares keys with, and forgets a set once its last key is gone', () => {
    const index = new DigestIndex(8);
    index.add('a', sets[0]!, v(100));
    index.add('b', sets[2]!, v(100));
    expect(index.peers('1')).toEqual(['2', '3', '4', '5']);
    index.remove('b', sets[2]!, v(100));
    expect(index.peers('1')).toEqual(['2', '3']);
  });
});
