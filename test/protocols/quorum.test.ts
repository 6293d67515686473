import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUORUM_CONFIG,
  majority,
  newest,
  quorumConfigProblem,
  quorumState,
  readsSeeWrites,
  staleReplicas,
  type ReplicaReply,
} from '../../src/protocols/quorum.js';
import { ZERO_VERSION, type Versioned } from '../../src/protocols/versions.js';

const at = (wall: number, node: string, value: string): Versioned<string> => ({ value, version: { wall, logical: 0, node }, seen: ZERO_VERSION });

/** Every subset of {0..n-1} with exactly k members, as bit masks. */
function subsets(n: number, k: number): number[] {
  const out: number[] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let m = mask; m; m >>= 1) bits += m & 1;
    if (bits === k) out.push(mask);
  }
  return out;
}

describe('quorum configuration', () => {
  it('accepts the default N=3, R=2, W=2 and names what is wrong with a bad one', () => {
    expect(quorumConfigProblem(DEFAULT_QUORUM_CONFIG)).toBeUndefined();
    expect(quorumConfigProblem({ n: 3, r: 4, w: 2 })).toMatch(/^r must/);
    expect(quorumConfigProblem({ n: 3, r: 2, w: 0 })).toMatch(/^w must/);
    expect(quorumConfigProblem({ n: 0, r: 1, w: 1 })).toMatch(/^n must/);
    expect(quorumConfigProblem({ n: 3, r: 1.5, w: 2 })).toMatch(/^r must/);
  });

  it('R + W > N exactly when every read quorum meets every write quorum', () => {
    for (let n = 1; n <= 6; n++) {
      for (let r = 1; r <= n; r++) {
        for (let w = 1; w <= n; w++) {
          const alwaysMeet = subsets(n, r).every((rs) => subsets(n, w).every((ws) => (rs & ws) !== 0));
          expect(readsSeeWrites({ n, r, w }), `n=${n} r=${r} w=${w}`).toBe(alwaysMeet);
        }
      }
    }
  });

  it('a majority is more than half', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('quorumState', () => {
  it('is met once enough replicas said yes', () => {
    expect(quorumState(2, 3, 2, 0)).toBe('met');
    expect(quorumState(2, 3, 2, 1)).toBe('met');
    expect(quorumState(2, 3, 3, 0)).toBe('met');
  });

  it('fails as soon as the replicas left cannot reach it', () => {
    expect(quorumState(2, 3, 0, 2)).toBe('failed'); // the handout: two of three nodes down, R=2 not met
    expect(quorumState(2, 3, 1, 2)).toBe('failed');
    expect(quorumState(3, 3, 0, 1)).toBe('failed');
  });

  it('is pending while it can still go either way', () => {
    expect(quorumState(2, 3, 0, 0)).toBe('pending');
    expect(quorumState(2, 3, 1, 1)).toBe('pending');
    expect(quorumState(2, 3, 0, 1)).toBe('pending');
  });

  it('decides exactly when the outcome no longer depends on the replies still missing', () => {
    for (let total = 1; total <= 6; total++) {
      for (let needed = 1; needed <= total; needed++) {
        for (let acks = 0; acks <= total; acks++) {
          for (let failures = 0; acks + failures <= total; failures++) {
            const missing = total - acks - failures;
            const best = acks + missing >= needed;
            const worst = acks >= needed;
            const expected = worst ? 'met' : best ? 'pending' : 'failed';
            expect(quorumState(needed, total, acks, failures)).toBe(expected);
          }
        }
      }
    }
  });
});

describe('newest and stale replicas (read repair)', () => {
  it('the healthy handout case: every replica has version 1, none is stale', () => {
    const v1 = at(1, '1', 'Alice');
    const replies: ReplicaReply<string>[] = ['1', '2', '3'].map((replica) => ({ replica, value: v1 }));
    expect(newest(replies)).toEqual({ value: v1, replicas: ['1', '2', '3'] });
    expect(staleReplicas(replies)).toEqual([]);
  });

  it('finds the newest version and the replicas that lag behind or have nothing', () => {
    const replies: ReplicaReply<string>[] = [
      { replica: '1', value: at(5, '1', 'old') },
      { replica: '2', value: at(9, '3', 'new') },
      { replica: '3', value: undefined },
      { replica: '4', value: at(9, '3', 'new') },
    ];
    expect(newest(replies)).toEqual({ value: at(9, '3', 'new'), replicas: ['2', '4'] });
    expect(staleReplicas(replies)).toEqual(['1', '3']);
  });

  it('breaks a tie in wall time by node id, the same way on every coordinator', () => {
    const a: ReplicaReply<string> = { replica: '1', value: at(7, '1', 'from node 1') };
    const b: ReplicaReply<string> = { replica: '2', value: at(7, '2', 'from node 2') };
    expect(newest([a, b])!.value.value).toBe('from node 2');
    expect(newest([b, a])!.value.value).toBe('from node 2');
    expect(staleReplicas([b, a])).toEqual(['1']);
  });

  it('no replica has the key: nothing newest, nothing to repair', () => {
    const replies: ReplicaReply<string>[] = [
      { replica: '1', value: undefined },
      { replica: '2', value: undefined },
    ];
    expect(newest(replies)).toBeUndefined();
    expect(staleReplicas(replies)).toEqual([]);
    expect(newest([])).toBeUndefined();
  });
});
