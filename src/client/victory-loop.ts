/**
 * The capstone's victory loop (handout Module 6): several client workers
 * write and read the cluster continuously, each through its own resilient
 * client, every operation recorded in one history; then the history is
 * judged: acknowledged writes lost (must be 0) and, for a linearizable
 * cluster, the linearizability verdict.
 *
 * Each worker repeats: write a fresh, unique value to a random key of a
 * small shared key set, then read a random key. When the time is up, every
 * key is read once more (after the chaos stopped), so that even the last
 * acknowledged writes are checked by a later read.
 */
import { DEFAULT_TIMEOUT_MS, checkLinearizability, type LinearizabilityResult } from '../check/linearizability.js';
import { checkLostWrites, type LostWritesResult } from '../check/lost-writes.js';
import { HistoryRecorder } from '../check/history.js';
import { DistlabClient, KvError } from './client.js';

export interface VictoryLoopOptions {
  nodes: readonly string[];
  durationMs: number;
  /** Client workers running at once (default 4). */
  workers?: number;
  /** Size of the shared key set (default 8). */
  keys?: number;
  /** Also write the history to this file (JSON lines). */
  historyFile?: string;
  /** Check linearizability at the end (a linearizable cluster). */
  checkLinearizable?: boolean;
  /** Told about every operation as it completes. */
  onOperation?: (line: OperationLine) => void;
  /** Stops the loop early. */
  signal?: AbortSignal;
  /** Runs when the workers are done, before the final reads (the capstone stops its chaos here). */
  beforeFinalReads?: () => Promise<void>;
}

export interface OperationLine {
  worker: number;
  f: 'put' | 'get';
  key: string;
  ok: boolean;
  /** put: the value written; get: the value read (null: not found). */
  value?: string | null;
  /** The coordinating node. */
  node?: string;
  acks?: string[];
  from?: string[];
  kind?: 'definite' | 'indefinite';
  reason?: string;
  ms: number;
}

export interface VictoryReport {
  durationMs: number;
  operations: number;
  ok: number;
  writes: { total: number; ok: number; definite: number; indefinite: number };
  reads: { total: number; ok: number; failed: number };
  /** Failures by kind and reason, e.g. {"definite: quorum not met": 3}. */
  failures: Record<string, number>;
  /** ok / operations. */
  availability: number;
  /** Writes per second that were acknowledged. */
  writeRate: number;
  lostWrites: LostWritesResult;
  linearizability?: LinearizabilityResult;
}

export async function runVictoryLoop(options: VictoryLoopOptions): Promise<VictoryReport> {
  const workers = options.workers ?? 4;
  const keyCount = options.keys ?? 8;
  const history = new HistoryRecorder({ ...(options.historyFile === undefined ? {} : { file: options.historyFile }), keepInMemory: true });
  const failures: Record<string, number> = {};
  const writes = { total: 0, ok: 0, definite: 0, indefinite: 0 };
  const reads = { total: 0, ok: 0, failed: 0 };
  const started = performance.now();
  const deadline = started + options.durationMs;
  const keyOf = (i: number) => `k${i}`;

  const runOne = async (client: DistlabClient, worker: number, f: 'put' | 'get', key: string, value?: string): Promise<void> => {
    const t0 = performance.now();
    try {
      if (f === 'put') {
        writes.total++;
        const r = await client.put(key, value as string);
        writes.ok++;
        options.onOperation?.({ worker, f, key, ok: true, value, node: r.node, acks: r.acks, ms: performance.now() - t0 });
      } else {
        reads.total++;
        const r = await client.get(key);
        reads.ok++;
        options.onOperation?.({ worker, f, key, ok: true, value: r.value, node: r.node, from: r.from, ms: performance.now() - t0 });
      }
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      if (f === 'put') writes[err.kind]++;
      else reads.failed++;
      const label = `${f === 'put' ? 'write' : 'read'} ${err.kind}: ${err.reason}`;
      failures[label] = (failures[label] ?? 0) + 1;
      options.onOperation?.({ worker, f, key, ok: false, kind: err.kind, reason: err.reason, ms: performance.now() - t0 });
    }
  };

  const clients: DistlabClient[] = [];
  const worker = async (w: number): Promise<void> => {
    const client = new DistlabClient({ nodes: options.nodes, history, process: w });
    clients.push(client);
    for (let seq = 1; performance.now() < deadline && !options.signal?.aborted; seq++) {
      await runOne(client, w, 'put', keyOf(Math.floor(Math.random() * keyCount)), `w${w}-${seq}`);
      await runOne(client, w, 'get', keyOf(Math.floor(Math.random() * keyCount)));
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w + 1)));
    const elapsed = performance.now() - started;
    await options.beforeFinalReads?.();
    // The final reads: one more read of every key, by a fresh process.
    const last = new DistlabClient({ nodes: options.nodes, history, process: workers + 1, attempts: 10 });
    clients.push(last);
    for (let i = 0; i < keyCount; i++) await runOne(last, 0, 'get', keyOf(i));

    const operations = writes.total + reads.total;
    const ok = writes.ok + reads.ok;
    return {
      durationMs: Math.round(elapsed),
      operations,
      ok,
      writes,
      reads,
      failures,
      availability: operations === 0 ? 0 : ok / operations,
      writeRate: writes.ok / (elapsed / 1000),
      lostWrites: checkLostWrites(history.events),
      // The history grows with the run: a 10-minute run on a fast cluster is over half a million
      // operations, which the checker needs tens of seconds for. It gets half the run's length.
      ...(options.checkLinearizable ? { linearizability: checkLinearizability(history.events, { timeoutMs: Math.max(DEFAULT_TIMEOUT_MS, options.durationMs / 2) }) } : {}),
    };
  } finally {
    history.close();
    await Promise.all(clients.map((c) => c.close()));
  }
}
