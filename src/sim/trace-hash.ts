/**
 * The trace hash: FNV-1a (64 bits) folded over everything that happened in a
 * run, in order — every delivered message and every emitted event. Two runs
 * with the same seed must end with the same hash; a differing hash means the
 * runs diverged somewhere.
 *
 * 64-bit FNV needs 64-bit multiplication; it is done here on two 32-bit
 * halves so the hot path never allocates a BigInt. The prime is
 * 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (h << 40).
 */
export class TraceHash {
  private hi = 0xcbf29ce4;
  private lo = 0x84222325;

  /** Folds in the UTF-16 code units of `text`, then a separator. */
  update(text: string): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i <= text.length; i++) {
      // the separator (code 0xffff, never produced by JSON text) after each piece
      lo = (lo ^ (i < text.length ? text.charCodeAt(i) : 0xffff)) >>> 0;
      const t = lo * 0x1b3;
      const carry = Math.floor(t / 4294967296);
      const newHi = hi * 0x1b3 + carry + ((lo << 8) >>> 0);
      lo = t >>> 0;
      hi = newHi >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }

  /** 16 hex digits. */
  digest(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}
