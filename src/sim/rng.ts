/**
 * Seeded randomness for the simulator.
 *
 * Every random choice in a simulated run comes from a `Rng` derived from the
 * run's one seed, so the same seed replays the same run. Independent streams
 * are derived by name (`network`, `workload`, `node:7`, ...): each stream is
 * seeded from the run seed and its name alone, so adding a node, or a node
 * drawing one more number, never shifts what the network draws.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast counting"
 * generator, 128 bits of state, passes PractRand), seeded through splitmix32.
 */

import { fmix32, fnv1a32 } from '../protocols/hashing.js';

const TWO_32 = 4294967296;

/** splitmix32: one step of a 32-bit mixing sequence; used only to seed. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  return fmix32(state.s); // the mixing step is murmur3's finalizer
}

/** Largest seed accepted: any non-negative safe integer. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator seeded from a 32-bit number. Prefer `Rng.stream`. */
  constructor(seed32: number) {
    const st = { s: seed32 >>> 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** The stream called `name` of the run seeded with `seed` (a safe integer >= 0). */
  static stream(seed: number, name: string): Rng {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    const st = { s: lo ^ Math.imul(hi, 0x9e3779b1) };
    const mixed = splitmix32(st) ^ fnv1a32(name);
    return new Rng(splitmix32({ s: mixed }));
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / TWO_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}
