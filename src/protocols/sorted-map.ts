/**
 * A Map from string keys whose keys can also be listed in ascending order,
 * or just those under a prefix, without scanning and sorting them all: the
 * keys are kept in a sorted array as well, and a prefix is a contiguous run
 * of it, found by binary search.
 *
 * Every Storage (memory, SQLite, the simulator's disk) keeps its data in
 * one, because protocols list keys by prefix on timers (kv's anti-entropy
 * and hints, broadcast's slots) and a node may hold many keys.
 *
 * The array is built lazily, once, the first time keys are listed (so
 * loading a large store is one sort, not a sorted insert per key); after
 * that a new key is inserted in place and a removed one taken out.
 */
export class SortedMap<V> {
  private readonly map = new Map<string, V>();
  private sorted: string[] | undefined;

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V): void {
    if (this.sorted && !this.map.has(key)) this.sorted.splice(lowerBound(this.sorted, key), 0, key);
    this.map.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.map.delete(key)) return false;
    if (this.sorted) this.sorted.splice(lowerBound(this.sorted, key), 1);
    return true;
  }

  /** The keys starting with `prefix` (all keys by default), in ascending order. A fresh array. */
  keys(prefix = ''): string[] {
    const sorted = (this.sorted ??= [...this.map.keys()].sort());
    const from = lowerBound(sorted, prefix);
    let to = from;
    while (to < sorted.length && sorted[to]!.startsWith(prefix)) to++;
    return sorted.slice(from, to);
  }

  /** The entries whose key starts with `prefix`, in ascending key order. A fresh array. */
  entries(prefix = ''): Array<[string, V]> {
    return this.keys(prefix).map((k) => [k, this.map.get(k)!]);
  }
}

/** The index of the first key in `sorted` that is not less than `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
