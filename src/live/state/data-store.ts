/**
 * Where `POST /data` and `GET /data/:key` keep their values.
 *
 * For now each node has its own store in memory, like the handouts' first
 * module. The routes talk to this interface only, so a replicated, durable
 * store can take its place without touching them: it is asynchronous because
 * a replicated store has to ask other nodes before it can answer.
 */
export interface DataStore {
  put(key: string, value: string): Promise<void>;
  /** The value, or undefined when the key is unknown. */
  get(key: string): Promise<string | undefined>;
}

/** This node's own store, in memory. */
export class LocalDataStore implements DataStore {
  private readonly data = new Map<string, string>();

  async put(key: string, value: string): Promise<void> {
    this.data.set(key, value);
  }

  async get(key: string): Promise<string | undefined> {
    return this.data.get(key);
  }

  get size(): number {
    return this.data.size;
  }
}
