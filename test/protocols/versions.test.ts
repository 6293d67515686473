import { describe, expect, it } from 'vitest';
import {
  ZERO_CLOCK,
  ZERO_VERSION,
  causality,
  compareVersions,
  formatVersion,
  maxVersion,
  merge,
  newestOf,
  nextVersion,
  observe,
  resolve,
  tick,
  type HlcClock,
  type Version,
  type Versioned,
} from '../../src/protocols/versions.js';

/** A small seeded PRNG (mulberry32) so the property tests are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const v = (wall: number, logical: number, node: string): Version => ({ wall, logical, node });
const later = (a: HlcClock, b: HlcClock) => a.wall > b.wall || (a.wall === b.wall && a.logical > b.logical);

/**
 * A random but valid history: writers on several nodes, each with its own
 * skewed clock, writing one key; each write has seen either nothing, or one
 * of the earlier writes. Returns every write made.
 */
function randomWrites(seed: number, count: number): Versioned<string>[] {
  const random = prng(seed);
  const nodes = ['1', '2', '3', '10'];
  const skew = new Map(nodes.map((n) => [n, Math.floor(random() * 50) - 25]));
  const clocks = new Map<string, HlcClock>(nodes.map((n) => [n, ZERO_CLOCK]));
  const writes: Versioned<string>[] = [];
  let now = 1000;
  for (let i = 0; i < count; i++) {
    now += Math.floor(random() * 3);
    const node = nodes[Math.floor(random() * nodes.length)]!;
    const basis = writes.length > 0 && random() < 0.7 ? writes[Math.floor(random() * writes.length)]!.version : ZERO_VERSION;
    const { clock, version } = nextVersion(clocks.get(node)!, now + skew.get(node)!, node, basis);
    clocks.set(node, clock);
    writes.push({ value: `w${i}`, version, seen: basis });
  }
  return writes;
}

describe('hybrid logical clock', () => {
  it('tick follows the physical clock and counts within a millisecond', () => {
    const a = tick(ZERO_CLOCK, 100);
    expect(a).toEqual({ wall: 100, logical: 0 });
    const b = tick(a, 100);
    expect(b).toEqual({ wall: 100, logical: 1 });
    const c = tick(b, 99); // the physical clock stepped back: keep wall, count on
    expect(c).toEqual({ wall: 100, logical: 2 });
    expect(tick(c, 150)).toEqual({ wall: 150, logical: 0 });
  });

  it('observe moves past both the local clock and the remote timestamp', () => {
    const random = prng(7);
    for (let i = 0; i < 300; i++) {
      const local = { wall: Math.floor(random() * 10), logical: Math.floor(random() * 3) };
      const remote = { wall: Math.floor(random() * 10), logical: Math.floor(random() * 3) };
      const now = Math.floor(random() * 10);
      const next = observe(local, remote, now);
      expect(later(next, local) && later(next, remote) && next.wall >= now).toBe(true);
      // never further ahead than needed: wall is one of the three candidates
      expect(next.wall).toBe(Math.max(local.wall, remote.wall, now));
    }
  });

  it('a node issues strictly increasing versions whatever its clock does', () => {
    const random = prng(3);
    let clock = ZERO_CLOCK;
    let previous = ZERO_VERSION;
    for (let i = 0; i < 1000; i++) {
      const result = nextVersion(clock, 500 + Math.floor(random() * 20) - 10, 'n1');
      expect(compareVersions(result.version, previous)).toBe(1);
      clock = result.clock;
      previous = result.version;
    }
  });

  it('respects causality despite clock skew: a write made after reading a value is newer', () => {
    // Node 1's clock is an hour fast; node 2 reads node 1's value and overwrites it.
    const first = nextVersion(ZERO_CLOCK, 3_600_000 + 1000, '1').version;
    const second = nextVersion(ZERO_CLOCK, 1005, '2', first).version;
    expect(compareVersions(second, first)).toBe(1);
    expect(second.wall).toBe(first.wall); // it borrowed the fast wall time and counted on
  });
});

describe('version order', () => {
  it('orders by wall, then logical, then node id (numeric ids as numbers)', () => {
    expect(compareVersions(v(2, 0, '1'), v(1, 9, '9'))).toBe(1);
    expect(compareVersions(v(1, 1, '1'), v(1, 2, '1'))).toBe(-1);
    expect(compareVersions(v(1, 1, '9'), v(1, 1, '10'))).toBe(-1);
    expect(compareVersions(v(1, 1, 'b'), v(1, 1, 'a'))).toBe(1);
    expect(compareVersions(v(1, 1, 'a'), v(1, 1, 'a'))).toBe(0);
    expect(maxVersion(v(1, 1, '2'), v(1, 1, '3'))).toEqual(v(1, 1, '3'));
    expect(formatVersion(v(1763760000123, 4, '2'))).toBe('1763760000123.4@2');
  });

  it('is a total order: antisymmetric and transitive over random versions', () => {
    const random = prng(11);
    const sample = Array.from({ length: 60 }, () => v(Math.floor(random() * 3), Math.floor(random() * 3), String(Math.floor(random() * 3))));
    const broken: string[] = [];
    for (const a of sample) {
      for (const b of sample) {
        if (compareVersions(a, b) !== -compareVersions(b, a)) broken.push(`antisymmetry ${formatVersion(a)} ${formatVersion(b)}`);
        for (const c of sample) {
          if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0 && compareVersions(a, c) > 0) broken.push(`transitivity ${formatVersion(a)} ${formatVersion(b)} ${formatVersion(c)}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('causality between writes', () => {
  const base: Versioned<string> = { value: 'v0', version: v(100, 0, '1'), seen: ZERO_VERSION };

  it('a write that had seen another comes after it', () => {
    const next: Versioned<string> = { value: 'v1', version: nextVersion(ZERO_CLOCK, 90, '2', base.version).version, seen: base.version };
    expect(causality(base, next)).toBe('before');
    expect(causality(next, base)).toBe('after');
    expect(causality(next, next)).toBe('equal');
  });

  it('two writes that both replaced the same value, unaware of each other, are concurrent', () => {
    const a: Versioned<string> = { value: 'a', version: v(200, 0, '1'), seen: base.version };
    const b: Versioned<string> = { value: 'b', version: v(201, 0, '2'), seen: base.version };
    expect(causality(a, b)).toBe('concurrent');
    expect(causality(b, a)).toBe('concurrent');
  });

  it('a blind write (seen nothing) is concurrent with whatever it overwrites', () => {
    const blind: Versioned<string> = { value: 'x', version: v(300, 0, '3'), seen: ZERO_VERSION };
    expect(causality(base, blind)).toBe('concurrent');
  });
});

describe('resolve and merge (last writer wins, visibly)', () => {
  const base: Versioned<string> = { value: 'v0', version: v(100, 0, '1'), seen: ZERO_VERSION };
  const a: Versioned<string> = { value: 'a', version: v(200, 0, '1'), seen: base.version };
  const b: Versioned<string> = { value: 'b', version: v(200, 0, '2'), seen: base.version };

  it('keeps the greater version, whichever arrives first, and reports the concurrent loser', () => {
    for (const [x, y] of [[a, b], [b, a]] as const) {
      expect(resolve(x, y)).toEqual({ winner: b, loser: a, concurrent: true });
    }
  });

  it('an ordinary overwrite is not reported as concurrent', () => {
    expect(resolve(base, a)).toEqual({ winner: a, loser: base, concurrent: false });
  });

  it('the same write twice has no loser', () => {
    expect(resolve(a, a)).toEqual({ winner: a, concurrent: false });
  });

  it('merge is idempotent, commutative and associative', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const writes = randomWrites(seed, 25);
      const broken: string[] = [];
      for (const x of writes) {
        if (merge(x, x) !== x) broken.push(`idempotence ${x.value}`);
        for (const y of writes) {
          if (merge(x, y) !== merge(y, x)) broken.push(`commutativity ${x.value} ${y.value}`);
          for (const z of writes) {
            if (merge(merge(x, y), z) !== merge(x, merge(y, z))) broken.push(`associativity ${x.value} ${y.value} ${z.value}`);
          }
        }
      }
      expect(broken).toEqual([]);
    }
  });

  it('replicas receiving the same writes in different orders converge on the same value', () => {
    for (const seed of [21, 22, 23]) {
      const writes = randomWrites(seed, 40);
      const random = prng(seed * 31);
      const outcomes = new Set<string>();
      for (let replica = 0; replica < 5; replica++) {
        const order = [...writes];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        outcomes.add(newestOf(order)!.value);
      }
      expect(outcomes.size).toBe(1);
      expect([...outcomes][0]).toBe(newestOf(writes)!.value);
    }
    expect(newestOf([])).toBeUndefined();
  });

  it('every valid write is newer than the version its writer had seen', () => {
    for (const w of randomWrites(99, 200)) expect(compareVersions(w.version, w.seen)).toBe(1);
  });
});
