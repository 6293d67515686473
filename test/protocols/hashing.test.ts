import { describe, expect, it } from 'vitest';
import { fmix32, murmur3 } from '../../src/protocols/hashing.js';

/** Counts the 1 bits of a 32-bit value. */
function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v >>>= 1) n += v & 1;
  return n;
}

/** Pearson's chi-square statistic of counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

const keys = Array.from({ length: 20_000 }, (_, i) => `user_${i}`);

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 test vectors', () => {
    const vectors: Array<[string, number, number]> = [
      ['', 0, 0x00000000],
      ['', 1, 0x514e28b7],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['ab', 0x9747b28c, 0x74875592],
      ['abc', 0, 0xb3dd93fa],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['hello', 0, 0x248bfa47],
      ['Hello, world!', 1234, 0xfaf6cdb3],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ];
    for (const [input, seed, expected] of vectors) {
      expect(murmur3(input, seed), `murmur3(${JSON.stringify(input)}, ${seed})`).toBe(expected);
    }
  });

  it('hashes the UTF-8 bytes, so non-ASCII keys are distinct and stable', () => {
    expect(murmur3('é')).not.toBe(murmur3('e'));
    expect(murmur3('日本')).toBe(murmur3('日本'));
    expect(murmur3('日本')).not.toBe(murmur3('本日'));
  });

  it('returns unsigned 32-bit integers and depends on the seed', () => {
    for (const key of keys.slice(0, 1000)) {
      const h = murmur3(key);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
    expect(murmur3('user_1', 1)).not.toBe(murmur3('user_1', 2));
  });

  it('spreads alike keys evenly over both the high and the low bits', () => {
    const high = new Array<number>(64).fill(0);
    const low = new Array<number>(64).fill(0);
    for (const key of keys) {
      const h = murmur3(key);
      high[h >>> 26]!++;
      low[h & 63]!++;
    }
    // 63 degrees of freedom: the 99.9th percentile of chi-square is about 104.
    expect(chiSquare(high)).toBeLessThan(104);
    expect(chiSquare(low)).toBeLessThan(104);
  });

  it('avalanches: one changed character flips about half the output bits', () => {
    let flipped = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) flipped += popcount(murmur3(`user_${i}`) ^ murmur3(`user_${i + 1}`));
    const mean = flipped / n / 32;
    expect(mean).toBeGreaterThan(0.47);
    expect(mean).toBeLessThan(0.53);
  });

  it('the finalizer alone avalanches consecutive integers', () => {
    for (let bit = 0; bit < 32; bit++) {
      let flipped = 0;
      for (let x = 0; x < 500; x++) flipped += popcount(fmix32(x) ^ fmix32((x ^ (1 << bit)) >>> 0));
      expect(flipped / 500 / 32).toBeGreaterThan(0.4);
    }
  });
});
