/**
 * The resilient client of the capstone: a TypeScript library that reads and
 * writes a distlab cluster's replicated `/data` while nodes die and return.
 *
 * What makes it resilient, and where it must stop:
 * - **Quorums.** `writeQuorum` / `readQuorum` are passed to the node as
 *   `?w=` / `?r=`; the node coordinates the quorum among the key's replicas.
 * - **Failover.** Any node can coordinate any key, so when one does not
 *   answer the client asks the next one (round-robin over the nodes it
 *   believes alive).
 * - **Dead nodes.** A node that refuses connections or times out is marked
 *   dead and skipped; it is probed (`GET /health`) every `probeIntervalMs`
 *   in the background and used again once it answers.
 * - **Retries with backoff and jitter** — but only where a retry is safe.
 *   A *definite* failure (the node was unreachable, or answered "quorum not
 *   met" before sending the value anywhere) changed nothing, so it is
 *   retried. An *indefinite* failure (a timeout, a dropped connection, or a
 *   write that reached fewer than W replicas) may still take effect; it is
 *   reported as indefinite (KvError kind 'indefinite') — unless
 *   `retryIndefiniteWrites` is set, in which case the same value is written
 *   again (a put of the same value is idempotent for the value it leaves).
 *   Reads change nothing and are always retried.
 * - **History.** With `history`, every call is recorded as one operation
 *   (invoke, then ok / fail / info), the input of the checkers: `fail` only
 *   when it certainly did not happen, `info` when it may have.
 */
import { Agent, request } from 'undici';
import type { HistoryRecorder, PendingOperation } from '../check/history.js';

export interface DistlabClientOptions {
  /** Base URLs of the cluster's nodes (e.g. from the roster). */
  nodes: readonly string[];
  /** W passed with every write and delete (default: the node's). */
  writeQuorum?: number;
  /** R passed with every read (default: the node's). */
  readQuorum?: number;
  /** Timeout of one HTTP attempt (default 3000 ms; a node answers a quorum request within ~1.5 s). */
  timeoutMs?: number;
  /** Attempts per operation, the first included (default 4). */
  attempts?: number;
  /** First backoff before a retry; doubles each time, with full jitter (default 50 ms). */
  backoffMs?: number;
  /** Cap of the backoff (default 1000 ms). */
  maxBackoffMs?: number;
  /** How often a node marked dead is probed (default 500 ms). */
  probeIntervalMs?: number;
  /** Write the same value again after an indefinite failure (default false: report it). */
  retryIndefiniteWrites?: boolean;
  /** Record every operation into this history (one operation at a time per client: give each worker its own client). */
  history?: HistoryRecorder;
  /** The process id of this client in the history (default 0). */
  process?: number | string;
  /** Random numbers for jitter and the starting node (default Math.random). */
  random?: () => number;
}

/** How an operation failed: `definite` — it certainly did not happen; `indefinite` — it may have. */
export type FailureKind = 'definite' | 'indefinite';

export class KvError extends Error {
  override readonly name = 'KvError';

  constructor(
    readonly kind: FailureKind,
    /** Short reason: "quorum not met", "timeout", "unreachable", "bad request", ... */
    readonly reason: string,
    message: string,
    /** The node's JSON answer, when there was one. */
    readonly body?: Record<string, unknown>,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface WriteResult {
  /** The node that coordinated the write. */
  node: string;
  /** Replicas that stored it on disk by the time the node answered. */
  acks: string[];
  replicas: string[];
  version?: string;
  /** HTTP attempts it took. */
  attempts: number;
}

export interface ReadResult {
  node: string;
  /** The value, or null when the key does not exist. */
  value: string | null;
  /** Replicas that hold the version read (empty when not found). */
  from: string[];
  replicas: string[];
  version?: string;
  attempts: number;
}

/** The outcome of one HTTP attempt. */
type Attempt =
  | { ok: true; status: number; body: Record<string, unknown> }
  | { ok: false; retry: boolean; error: KvError; nodeDead?: boolean };

interface NodeState {
  url: string;
  dead: boolean;
  probing?: NodeJS.Timeout;
}

export class DistlabClient {
  private readonly nodes: NodeState[];
  private readonly agent: Agent;
  private readonly opts: Required<Omit<DistlabClientOptions, 'writeQuorum' | 'readQuorum' | 'history' | 'nodes'>> &
    Pick<DistlabClientOptions, 'writeQuorum' | 'readQuorum' | 'history'>;
  private next: number;
  private closed = false;

  constructor(options: DistlabClientOptions) {
    if (options.nodes.length === 0) throw new Error('DistlabClient needs at least one node URL');
    this.nodes = options.nodes.map((url) => ({ url: url.replace(/\/+$/, ''), dead: false }));
    this.opts = {
      timeoutMs: 3000,
      attempts: 4,
      backoffMs: 50,
      maxBackoffMs: 1000,
      probeIntervalMs: 500,
      retryIndefiniteWrites: false,
      process: 0,
      random: Math.random,
      ...options,
    };
    this.next = Math.floor(this.opts.random() * this.nodes.length);
    this.agent = new Agent({ keepAliveTimeout: 2000, connect: { timeout: this.opts.timeoutMs } });
  }

  /** Nodes currently believed dead. */
  deadNodes(): string[] {
    return this.nodes.filter((n) => n.dead).map((n) => n.url);
  }

  async put(key: string, value: string): Promise<WriteResult> {
    const op = this.opts.history?.invoke(this.opts.process, 'put', { key, value });
    const query = this.opts.writeQuorum === undefined ? '' : `?w=${this.opts.writeQuorum}`;
    return this.run(op, true, (node) => this.http(node, 'POST', `/data${query}`, { key, value }), (node, body, attempts) => {
      op?.ok();
      return { node, acks: strings(body.acks), replicas: strings(body.replicas), version: optString(body.version), attempts };
    });
  }

  async get(key: string): Promise<ReadResult> {
    const op = this.opts.history?.invoke(this.opts.process, 'get', { key });
    const query = this.opts.readQuorum === undefined ? '' : `?r=${this.opts.readQuorum}`;
    return this.run(op, false, (node) => this.http(node, 'GET', `/data/${encodeURIComponent(key)}${query}`), (node, body, attempts, status) => {
      const value = status === 404 ? null : String(body.value);
      op?.ok(value);
      return { node, value, from: strings(body.from), replicas: strings(body.replicas), version: optString(body.version), attempts };
    });
  }

  async delete(key: string): Promise<WriteResult> {
    const op = this.opts.history?.invoke(this.opts.process, 'delete', { key });
    const query = this.opts.writeQuorum === undefined ? '' : `?w=${this.opts.writeQuorum}`;
    return this.run(op, true, (node) => this.http(node, 'DELETE', `/data/${encodeURIComponent(key)}${query}`), (node, body, attempts) => {
      op?.ok();
      return { node, acks: strings(body.acks), replicas: strings(body.replicas), version: optString(body.version), attempts };
    });
  }

  /** Stops probing and closes connections. */
  async close(): Promise<void> {
    this.closed = true;
    for (const n of this.nodes) clearTimeout(n.probing);
    await this.agent.close();
  }

  // ---------------------------------------------------------------- internals

  /**
   * Tries the operation on node after node. A definite failure is retried
   * (after a backoff); an indefinite one ends the operation unless it is a
   * read or `retryIndefiniteWrites` is on. The last failure is thrown.
   */
  private async run<T>(
    op: PendingOperation | undefined,
    isWrite: boolean,
    attempt: (node: string) => Promise<Attempt>,
    done: (node: string, body: Record<string, unknown>, attempts: number, status: number) => T,
  ): Promise<T> {
    let indefinite = false;
    let last: KvError | undefined;
    for (let i = 1; i <= this.opts.attempts; i++) {
      if (i > 1) await this.backoff(i - 1);
      const node = this.pickNode();
      const result = await attempt(node.url);
      if (result.ok) return done(node.url, result.body, i, result.status);
      last = result.error;
      if (result.nodeDead) this.markDead(node);
      if (result.error.kind === 'indefinite' && isWrite) {
        indefinite = true;
        if (!this.opts.retryIndefiniteWrites) break;
      }
      if (!result.retry) break;
    }
    const error = last as KvError;
    // Once any attempt of a write was indefinite, the write as a whole is.
    const final = indefinite && error.kind === 'definite' ? new KvError('indefinite', error.reason, `${error.message} (an earlier attempt may have taken effect)`, error.body, error.status) : error;
    if (final.kind === 'indefinite') op?.info(final.reason);
    else op?.fail(final.reason);
    throw final;
  }

  private async http(node: string, method: 'GET' | 'POST' | 'DELETE', path: string, json?: unknown): Promise<Attempt> {
    let sent = false;
    try {
      const res = await request(`${node}${path}`, {
        method,
        dispatcher: this.agent,
        headers: json === undefined ? {} : { 'content-type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      sent = true;
      const text = await res.body.text();
      let body: Record<string, unknown>;
      try {
        const parsed = JSON.parse(text) as unknown;
        body = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : { error: 'not a JSON object', detail: text.slice(0, 200) };
      } catch {
        body = { error: 'not JSON', detail: text.slice(0, 200) };
      }
      return classify(res.statusCode, body, method);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? '';
      const refused = ['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH'].some((c) => c === code || c === cause);
      const message = err instanceof Error ? err.message : String(err);
      if (refused && !sent) {
        return { ok: false, retry: true, nodeDead: true, error: new KvError('definite', 'unreachable', `${node} is unreachable (${code || cause})`) };
      }
      const timedOut = (err as Error).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT';
      return {
        ok: false,
        retry: true,
        nodeDead: true,
        error: new KvError('indefinite', timedOut ? 'timeout' : 'connection lost', `${method} ${node}${path}: ${timedOut ? `no answer within ${this.opts.timeoutMs} ms` : message}`),
      };
    }
  }

  /** Round-robin over the nodes believed alive; when all are dead, over all of them. */
  private pickNode(): NodeState {
    const alive = this.nodes.filter((n) => !n.dead);
    const pool = alive.length > 0 ? alive : this.nodes;
    this.next = (this.next + 1) % pool.length;
    return pool[this.next] as NodeState;
  }

  private markDead(node: NodeState): void {
    if (node.dead || this.closed) return;
    node.dead = true;
    const probe = async (): Promise<void> => {
      try {
        const res = await request(`${node.url}/health`, { dispatcher: this.agent, signal: AbortSignal.timeout(this.opts.probeIntervalMs) });
        await res.body.dump();
        if (res.statusCode === 200) {
          node.dead = false;
          node.probing = undefined;
          return;
        }
      } catch {
        // still dead
      }
      if (!this.closed) schedule();
    };
    const schedule = () => {
      node.probing = setTimeout(() => void probe(), this.opts.probeIntervalMs);
      node.probing.unref();
    };
    schedule();
  }

  private backoff(retry: number): Promise<void> {
    const cap = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** (retry - 1));
    const ms = this.opts.random() * cap;
    return new Promise((r) => setTimeout(r, ms));
  }
}

/** From an HTTP answer to the outcome of an attempt. */
function classify(status: number, body: Record<string, unknown>, method: string): Attempt {
  if (status >= 200 && status < 300) return { ok: true, status, body };
  if (status === 404 && method === 'GET' && typeof body.detail === 'string' && body.detail.startsWith('Key ')) return { ok: true, status, body };
  const text = `${status} ${String(body.error ?? '')}: ${String(body.detail ?? '')}`;
  const reason = String(body.error ?? `HTTP ${status}`);
  if (status === 503 || status === 504) {
    const indefinite = body.indefinite === true;
    return { ok: false, retry: true, error: new KvError(indefinite ? 'indefinite' : 'definite', reason, text, body, status) };
  }
  // Bad input is not made better by asking again.
  return { ok: false, retry: false, error: new KvError('definite', reason, text, body, status) };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
