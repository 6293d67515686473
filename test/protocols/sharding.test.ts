import { describe, expect, it } from 'vitest';
import {
  ConsistentHashRing,
  DEFAULT_RING_CONFIG,
  ModuloStrategy,
  idealMovedFraction,
  keysPerNode,
  loadSpread,
  movedKeys,
  numberedNodes,
  partitioner,
  rebalance,
  sampleKeys,
  type Partitioner,
} from '../../src/protocols/sharding.js';
import { murmur3 } from '../../src/protocols/hashing.js';

const keys = sampleKeys(2000);

/**
 * The preference list by its definition, with nothing remembered: from the
 * first point at or after the key's hash (wrapping), walk clockwise once
 * around and take the first `n` distinct nodes.
 */
function walkedList(ring: ConsistentHashRing, key: string, n: number): string[] {
  const points = ring.ring();
  const hash = murmur3(key);
  const first = points.findIndex((p) => p.position >= hash);
  const start = first === -1 ? 0 : first;
  const chosen: string[] = [];
  for (let step = 0; step < points.length && chosen.length < n; step++) {
    const node = points[(start + step) % points.length]!.node;
    if (!chosen.includes(node)) chosen.push(node);
  }
  return chosen;
}

/** Coefficient of variation of the ring share per node: 0 is perfectly even. */
function shareSpread(ring: ConsistentHashRing): number {
  const shares = [...ring.ownership().values()];
  const mean = 1 / shares.length;
  return Math.sqrt(shares.reduce((acc, s) => acc + (s - mean) ** 2, 0) / shares.length) / mean;
}

describe.each([
  ['consistent', (nodes: string[]) => new ConsistentHashRing(nodes)],
  ['modulo', (nodes: string[]) => new ModuloStrategy(nodes)],
] as const)('%s: the Partitioner contract', (_name, make: (nodes: string[]) => Partitioner) => {
  it('gives a preference list of N distinct nodes, owner first', () => {
    const p = make(numberedNodes(5));
    const wrong: string[] = [];
    for (const key of keys) {
      for (const n of [1, 3, 5]) {
        const list = p.preferenceList(key, n);
        const ok = list.length === n && new Set(list).size === n && list[0] === p.ownerOf(key) && list.every((node) => p.nodes().includes(node));
        if (!ok) wrong.push(`${key} N=${n}: ${list.join(',')}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('returns every node, and no more, when N exceeds the cluster', () => {
    const list = make(['a', 'b']).preferenceList('k', 5);
    expect([...list].sort()).toEqual(['a', 'b']);
  });

  it('is deterministic: two partitioners built alike place every key alike', () => {
    const a = make(numberedNodes(4));
    const b = make(numberedNodes(4));
    expect(keys.map((k) => b.preferenceList(k, 3))).toEqual(keys.map((k) => a.preferenceList(k, 3)));
  });

  it('adding a present node or removing an absent one changes nothing', () => {
    const p = make(numberedNodes(3));
    const before = keys.map((k) => p.ownerOf(k));
    p.addNode('2');
    p.removeNode('9');
    expect(p.nodes()).toEqual(['1', '2', '3']);
    expect(keys.map((k) => p.ownerOf(k))).toEqual(before);
  });

  it('refuses to place a key when there are no nodes', () => {
    const p = make(['1']);
    p.removeNode('1');
    expect(() => p.ownerOf('k')).toThrow(/no nodes/);
    expect(() => p.preferenceList('k', 1)).toThrow(/no nodes/);
  });
});

describe('ConsistentHashRing', () => {
  it('does not depend on the order nodes were added in', () => {
    const a = new ConsistentHashRing(['1', '2', '3', '4']);
    const b = new ConsistentHashRing(['3', '1', '4', '2']);
    expect(b.ring()).toEqual(a.ring());
    expect(keys.map((k) => b.preferenceList(k, 3))).toEqual(keys.map((k) => a.preferenceList(k, 3)));
  });

  it('places nodes × vnodes points, sorted clockwise', () => {
    const ring = new ConsistentHashRing(numberedNodes(3), { vnodes: 50 });
    const positions = ring.ring().map((p) => p.position);
    expect(positions).toHaveLength(150);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  });

  it('adding a node moves keys only to the new node (minimal movement)', () => {
    for (const size of [1, 3, 7]) {
      const before = new ConsistentHashRing(numberedNodes(size));
      const after = new ConsistentHashRing(numberedNodes(size));
      after.addNode('new');
      const moved = movedKeys(before, after, keys);
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.filter((key) => after.ownerOf(key) !== 'new')).toEqual([]);
    }
  });

  it('removing a node moves only the keys it owned', () => {
    const before = new ConsistentHashRing(numberedNodes(5));
    const after = new ConsistentHashRing(numberedNodes(5));
    after.removeNode('3');
    const wrong = keys.filter((key) => {
      const was = before.ownerOf(key);
      const is = after.ownerOf(key);
      return was === '3' ? is === '3' : is !== was;
    });
    expect(wrong).toEqual([]);
    expect(keys.some((key) => before.ownerOf(key) === '3')).toBe(true);
  });

  it('after a join, a preference list only gains the new node (and drops its last member)', () => {
    const before = new ConsistentHashRing(numberedNodes(5));
    const after = new ConsistentHashRing(numberedNodes(5));
    after.addNode('6');
    const wrong = keys.filter((key) => {
      const old = before.preferenceList(key, 3);
      const kept = after.preferenceList(key, 3).filter((n) => n !== '6');
      return kept.join() !== old.slice(0, kept.length).join();
    });
    expect(wrong).toEqual([]);
    expect(keys.some((key) => after.preferenceList(key, 3).includes('6'))).toBe(true);
  });

  it('remembered preference lists equal walked ones, for several N, across joins and leaves', () => {
    // Few points per node, so that many keys share a point and a list is
    // looked up again after it was first walked.
    for (const vnodes of [4, DEFAULT_RING_CONFIG.vnodes]) {
      const ring = new ConsistentHashRing(numberedNodes(5), { vnodes });
      const wrong: string[] = [];
      const compare = (stage: string) => {
        for (const n of [1, 2, 3, 5, 8]) {
          for (const key of keys.slice(0, 500)) {
            for (const round of [1, 2]) {
              const got = ring.preferenceList(key, n);
              const want = walkedList(ring, key, n);
              if (got.join() !== want.join()) wrong.push(`vnodes=${vnodes} ${stage} N=${n} ${key} (lookup ${round}): ${got.join()} != ${want.join()}`);
            }
          }
        }
      };
      compare('start');
      ring.addNode('6');
      compare('after adding 6');
      ring.removeNode('2');
      compare('after removing 2');
      ring.removeNode('6');
      ring.addNode('2');
      compare('back to 1-5');
      expect(wrong.slice(0, 5)).toEqual([]);
    }
  });

  it('hands out preference lists nobody can change', () => {
    const ring = new ConsistentHashRing(numberedNodes(4));
    const list = ring.preferenceList('user_1', 3) as string[];
    expect(() => list.reverse()).toThrow(TypeError);
    expect(ring.preferenceList('user_1', 3)).toEqual(walkedList(ring, 'user_1', 3));
  });

  it('removing a node and adding it back restores every placement', () => {
    const ring = new ConsistentHashRing(numberedNodes(4));
    const before = keys.map((k) => ring.preferenceList(k, 3));
    ring.removeNode('2');
    ring.addNode('2');
    expect(keys.map((k) => ring.preferenceList(k, 3))).toEqual(before);
  });

  it('ring shares sum to 1, and more virtual nodes even them out', () => {
    for (const size of [3, 4, 8]) {
      const coarse = new ConsistentHashRing(numberedNodes(size), { vnodes: 1 });
      const fine = new ConsistentHashRing(numberedNodes(size), { vnodes: DEFAULT_RING_CONFIG.vnodes });
      const total = [...fine.ownership().values()].reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 9);
      expect(shareSpread(fine)).toBeLessThan(shareSpread(coarse));
      expect(shareSpread(fine)).toBeLessThan(0.15);
    }
  });

  it('rejects a vnode count that is not a positive integer', () => {
    expect(() => new ConsistentHashRing(['1'], { vnodes: 0 })).toThrow(/vnodes/);
    expect(() => new ConsistentHashRing(['1'], { vnodes: 2.5 })).toThrow(/vnodes/);
  });
});

describe('rebalancing 3 → 4 nodes (the handout figure, a property of the algorithms)', () => {
  const handoutKeys = sampleKeys(1000);

  it('consistent hashing moves about the ideal quarter; modulo about three quarters', () => {
    const consistent = rebalance('consistent', handoutKeys, 3, 4);
    const modulo = rebalance('modulo', handoutKeys, 3, 4);
    expect(consistent.idealFraction).toBe(0.25);
    expect(consistent.movedFraction).toBeLessThan(0.3);
    expect(modulo.movedFraction).toBeGreaterThan(0.6);
  });

  it('with the default vnodes, consistent hashing meets the issue target of at most 27%', () => {
    expect(rebalance('consistent', handoutKeys, 3, 4).movedFraction).toBeLessThanOrEqual(0.27);
  });

  it('the ring share that changes hands is what the keys show, within sampling noise', () => {
    for (const [from, to] of [[3, 4], [4, 3], [5, 8]] as const) {
      const r = rebalance('consistent', sampleKeys(20_000), from, to);
      expect(r.ringShareMoved).toBeDefined();
      // 20,000 keys: the standard error of the moved fraction is below 0.004.
      expect(Math.abs(r.movedFraction - r.ringShareMoved!)).toBeLessThan(0.02);
    }
  });

  it('shrinking works too, and counts every key once', () => {
    for (const strategy of ['consistent', 'modulo'] as const) {
      const r = rebalance(strategy, handoutKeys, 4, 3);
      expect(r.before.nodes).toBe(4);
      expect(r.after.nodes).toBe(3);
      expect(r.before.mean * r.before.nodes).toBeCloseTo(1000, 9);
      expect(r.after.mean * r.after.nodes).toBeCloseTo(1000, 9);
    }
    expect(idealMovedFraction(4, 3)).toBe(0.25);
    expect(idealMovedFraction(2, 6)).toBeCloseTo(2 / 3, 12);
  });
});

describe('load spread', () => {
  it('computes min, max, mean and population standard deviation', () => {
    const s = loadSpread(new Map([['a', 2], ['b', 4], ['c', 4], ['d', 4], ['e', 5], ['f', 5], ['g', 7], ['h', 9]]));
    expect(s).toEqual({ nodes: 8, min: 2, max: 9, mean: 5, stddev: 2 });
    expect(loadSpread(new Map())).toEqual({ nodes: 0, min: 0, max: 0, mean: 0, stddev: 0 });
  });

  it('counts every node, including one that owns no key', () => {
    const counts = keysPerNode(partitioner('modulo', ['1', '2', '3']), ['only-one-key']);
    expect([...counts.values()].sort()).toEqual([0, 0, 1]);
  });
});
