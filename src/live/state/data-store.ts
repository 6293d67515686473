/**
 * Where `POST /data`, `GET /data/:key` and `DELETE /data/:key` keep their
 * values.
 *
 * A node of one process keeps them in the replicated key-value store
 * (kv-data-store.ts: the kv protocol, on disk with --data-dir); a node of
 * several worker processes, or a test, uses this node's own store in memory,
 * like the handouts' first module. The routes talk to this interface only.
 * Each answer carries extra fields for the HTTP reply (which replicas
 * acknowledged, the version, ...); a store that cannot answer throws an
 * HttpError (e.g. 503 quorum not met).
 */
export interface DataOptions {
  /** Replies a read waits for (replicated stores only). */
  r?: number;
  /** Acknowledgements a write or delete waits for (replicated stores only). */
  w?: number;
}

export interface DataValue {
  value: string;
  /** Extra fields of the answer (replicated: version, from, replicas). */
  fields: Record<string, unknown>;
}

export interface DataStore {
  /** Stores the value; resolves with extra answer fields once it is stored. */
  put(key: string, value: string, options?: DataOptions): Promise<Record<string, unknown>>;
  /** The value, or undefined when the key is unknown. */
  get(key: string, options?: DataOptions): Promise<DataValue | undefined>;
  /** Deletes the key; resolves with extra answer fields, or undefined when the key was unknown. */
  delete(key: string, options?: DataOptions): Promise<Record<string, unknown> | undefined>;
}

/** This node's own store, in memory. */
export class LocalDataStore implements DataStore {
  private readonly data = new Map<string, string>();

  async put(key: string, value: string): Promise<Record<string, unknown>> {
    this.data.set(key, value);
    return {};
  }

  async get(key: string): Promise<DataValue | undefined> {
    const value = this.data.get(key);
    return value === undefined ? undefined : { value, fields: {} };
  }

  async delete(key: string): Promise<Record<string, unknown> | undefined> {
    return this.data.delete(key) ? {} : undefined;
  }

  get size(): number {
    return this.data.size;
  }
}
