/**
 * Durable storage for a live node: one SQLite file per node (better-sqlite3).
 *
 * It implements the protocols' `Storage` contract (src/protocols/env.ts):
 * - every key/value is also kept in memory, so `get` and `keys` are
 *   synchronous and cheap; the file is read once, when the node opens it;
 * - `put`/`delete` change the memory at once and queue the change; all the
 *   changes queued during one turn of the event loop are written in ONE
 *   transaction (WAL mode, synchronous=FULL, so the commit fsyncs), and only
 *   then are their `onDurable` callbacks called — group commit. One fsync
 *   serves every write of the turn, which is what keeps the p99 of a quorum
 *   write low at 1,000 writes/s (bench/storage/README.md measured the choice);
 * - the queue is applied in order, so one key's writes become durable in
 *   the order they were made.
 *
 * Values are stored as JSON text. A node killed with SIGKILL loses only the
 * changes of the turn in flight, none of which had been acknowledged.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from '../protocols/env.js';
import { SortedMap } from '../protocols/sorted-map.js';

interface Change {
  key: string;
  /** JSON text, or undefined for a delete. */
  json: string | undefined;
  onDurable?: () => void;
}

export interface SqliteStorageOptions {
  /** Called when a commit fails (disk full, file removed): the node cannot keep its promises and should stop. Default: throw. */
  onFailure?: (err: Error) => void;
}

export class SqliteStorage implements Storage {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly data = new SortedMap<unknown>();
  private queue: Change[] = [];
  private closed = false;
  private readonly commit: (batch: Change[]) => void;

  /** Opens (or creates) `dir/node.sqlite` and loads its contents. */
  constructor(
    dir: string,
    private readonly options: SqliteStorageOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'node.sqlite');
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    for (const row of this.db.prepare('SELECT key, value FROM kv').iterate() as IterableIterator<{ key: string; value: string }>) {
      this.data.set(row.key, JSON.parse(row.value));
    }
    const upsert = this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    const remove = this.db.prepare('DELETE FROM kv WHERE key = ?');
    this.commit = this.db.transaction((batch: Change[]) => {
      for (const c of batch) {
        if (c.json === undefined) remove.run(c.key);
        else upsert.run(c.key, c.json);
      }
    });
  }

  get<T = unknown>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Throws a TypeError, changing nothing, for a value JSON cannot hold (undefined, a function, a BigInt). */
  put(key: string, value: unknown, onDurable?: () => void): void {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`cannot store ${typeof value} under '${key}': not JSON`);
    this.data.set(key, value);
    this.enqueue({ key, json, onDurable });
  }

  delete(key: string, onDurable?: () => void): void {
    this.data.delete(key);
    this.enqueue({ key, json: undefined, onDurable });
  }

  keys(prefix = ''): string[] {
    return this.data.keys(prefix);
  }

  entries<T = unknown>(prefix = ''): Array<[string, T]> {
    return this.data.entries(prefix) as Array<[string, T]>;
  }

  /** How many keys are stored. */
  get size(): number {
    return this.data.size;
  }

  /** Commits what is queued and closes the file. Later writes are ignored (never reported durable). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }

  private enqueue(change: Change): void {
    if (this.closed) return;
    if (this.queue.length === 0) setImmediate(() => this.flush());
    this.queue.push(change);
  }

  /** One transaction (and one fsync) for every change queued since the last flush; then their callbacks. */
  private flush(): void {
    if (this.closed || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.commit(batch);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (!this.options.onFailure) throw e;
      this.options.onFailure(e);
      return;
    }
    for (const c of batch) c.onDurable?.();
  }
}
