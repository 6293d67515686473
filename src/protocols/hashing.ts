/**
 * Hashing keys onto a ring: MurmurHash3 (x86, 32-bit), written out by hand.
 *
 * Sharding needs a function that turns a key ("user_42") or a virtual node
 * ("3#17") into a number, so that every machine computes the same placement
 * without talking to anyone. Three properties matter, in this order:
 *
 * 1. Deterministic everywhere: the same bytes give the same number on every
 *    node, every run, every platform. (So no Math.random, and no hash that
 *    is seeded per process, like many hash tables use.)
 * 2. Uniform: the numbers spread evenly over 0 .. 2^32-1, so each node of
 *    the ring receives a fair share of keys.
 * 3. Avalanche: changing one input bit flips about half of the output bits.
 *    Keys in real systems look alike — `user_0`, `user_1`, ... differ only in
 *    their last characters — and a hash without avalanche puts alike keys
 *    close together on the ring, where they all land on the same node.
 *
 * Why MurmurHash3 and not FNV-1a: FNV-1a is shorter (xor in a byte, multiply
 * by a prime, repeat), but it ends with a multiplication, and multiplying
 * only carries changes upward: the low bits of the result depend only on the
 * low bits of the input. Measured on `user_0` .. `user_1999`: moving to the
 * next key flips 31% of FNV-1a's output bits on average (ideal: 50%), and
 * `user_i` and `user_{i+2}` get the same lowest bit 82% of the time (ideal:
 * 50%). MurmurHash3 ends with a "finalizer" (fmix32: xor-shift, multiply,
 * xor-shift, multiply, xor-shift) chosen precisely to make every input bit
 * affect every output bit. It is also what Cassandra and many other stores use
 * for partitioning (in its 128-bit form). Why not MD5 or SHA-1, as the
 * workshop's Python does: they are cryptographic (slow by design) and we need
 * no security here, only spread; and protocols may not import node:crypto.
 *
 * This is *not* a cryptographic hash: an adversary who picks keys can make
 * them collide. For placing keys on a ring that is fine.
 */

const encoder = new TextEncoder();

/**
 * The bytes murmur3 hashes are encoded into this one reusable buffer rather
 * than a fresh array per call: the store hashes every key it holds on each
 * anti-entropy round, and thousands of short-lived arrays a round keep the
 * garbage collector busy.
 */
let scratch = new Uint8Array(256);

/** Writes `key`'s UTF-8 bytes into `scratch` (grown if needed) and returns how many there are. */
function utf8Into(key: string): number {
  // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
  if (key.length * 3 > scratch.length) scratch = new Uint8Array(key.length * 3);
  return encoder.encodeInto(key, scratch).written;
}

/** 32-bit rotate left. */
function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * The finalizer: mixes the bits of a 32-bit value so that each input bit
 * flips each output bit with probability close to 1/2.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3_x86_32 of a string's UTF-8 bytes. Returns an unsigned 32-bit
 * integer (0 .. 4294967295). `seed` selects an independent hash function.
 */
export function murmur3(key: string, seed = 0): number {
  const length = utf8Into(key);
  const data = scratch;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = length >>> 2; // whole 4-byte blocks
  let h = seed >>> 0;

  // Body: fold in the key four bytes (one little-endian 32-bit word) at a time.
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    let k = (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = rotl32(k, 15);
    k = Math.imul(k, c2);
    h ^= k;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  // Tail: the last 1-3 bytes that do not fill a block.
  const tail = blocks * 4;
  const rest = length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= data[tail + 2]! << 16;
    if (rest >= 2) k ^= data[tail + 1]! << 8;
    k ^= data[tail]!;
    k = Math.imul(k, c1);
    k = rotl32(k, 15);
    k = Math.imul(k, c2);
    h ^= k;
  }

  // Finalization: mix in the length, then avalanche.
  h ^= length;
  return fmix32(h);
}

/** The size of the hash space: positions on the ring are 0 .. RING_SIZE-1. */
export const RING_SIZE = 2 ** 32;

/**
 * FNV-1a, 32 bits, over UTF-16 code units: a tiny string hash for where
 * quality matters less than simplicity (checksums that add hashes up, naming
 * random streams). Keys on the ring use murmur3.
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
