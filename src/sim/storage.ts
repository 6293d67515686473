/**
 * A node's storage in the simulator, with a modelled disk.
 *
 * A write is visible to the node at once, and becomes durable a little later
 * (the world's disk delay), in the order it was made; only then does its
 * `onDurable` callback run. A crash throws away every write that was not yet
 * durable: after a restart the node finds exactly the durable writes. This is
 * what lets a test catch a protocol that acknowledges before it has persisted.
 */
import type { Storage } from '../protocols/env.js';
import { SortedMap } from '../protocols/sorted-map.js';

export class SimStorage implements Storage {
  private visible = new SortedMap<unknown>();
  /** What survives a crash. Values are snapshots taken at write time. */
  private readonly durable = new Map<string, unknown>();

  /**
   * `persist(apply)` must run `apply` once the write is durable, unless the
   * node crashes first (the world drops it then).
   */
  constructor(private readonly persist: (apply: () => void) => void) {}

  get<T = unknown>(key: string): T | undefined {
    return this.visible.get(key) as T | undefined;
  }

  put(key: string, value: unknown, onDurable?: () => void): void {
    this.visible.set(key, value);
    const snapshot = structuredClone(value);
    this.persist(() => {
      this.durable.set(key, snapshot);
      onDurable?.();
    });
  }

  delete(key: string, onDurable?: () => void): void {
    this.visible.delete(key);
    this.persist(() => {
      this.durable.delete(key);
      onDurable?.();
    });
  }

  keys(prefix = ''): string[] {
    return this.visible.keys(prefix);
  }

  entries<T = unknown>(prefix = ''): Array<[string, T]> {
    return this.visible.entries(prefix) as Array<[string, T]>;
  }

  /** The node crashed: forget every write that had not reached the disk. */
  crash(): void {
    this.visible = new SortedMap();
    for (const [k, v] of this.durable) this.visible.set(k, structuredClone(v));
  }
}
