/**
 * How envelopes travel between live nodes: HTTP POSTs of JSON arrays to the
 * peer's `/envelope` route, over one keep-alive connection pool per peer.
 *
 * - Batching: envelopes for the same peer queued in the same turn of the
 *   event loop leave together in one POST (split only when a batch would
 *   exceed `maxBatchBytes`). While `connectionsPerPeer` POSTs are in flight,
 *   new envelopes wait and coalesce into the next one.
 * - Loss is normal: the transport never throws into the protocol. An
 *   envelope that cannot be sent (peer down, timeout, refused, partition,
 *   injected drop, queue full) is simply lost, and a `msg.dropped` event says
 *   where and why.
 * - Faults (faults.ts) are applied here: on send for drop, delay and
 *   `blockTo`; on receive for `blockFrom`.
 * - Envelopes a node addresses to itself never get here: the runtime
 *   delivers them locally (protocols/runtime.ts).
 *
 * Events: `msg.sent` for every envelope handed to the transport,
 * `msg.received` when one is delivered to the local runtime, `msg.dropped`
 * (with `stage: "send" | "receive"` and a `reason`) when one is lost. They
 * are built only when somebody listens.
 *
 * undici is loaded on the first POST, not with the module: a node answers
 * /health sooner and a node alone (no peers) never pays its ~15 MB.
 */

import type { Pool } from 'undici';
import type { Envelope, NodeId } from '../protocols/envelope.js';
import type { ProtocolEvent } from '../protocols/env.js';
import type { FaultInjector } from './faults.js';

/** A member of the cluster and the base URL its HTTP server answers on. */
export interface Peer {
  id: NodeId;
  url: string;
}

export interface TransportConfig {
  /** Give up connecting to a peer after this long. */
  connectTimeoutMs: number;
  /** Give up on a POST whose answer has not come after this long. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this long. */
  keepAliveMs: number;
  /** At most this many POSTs in flight to one peer (and connections to it). */
  connectionsPerPeer: number;
  /** A POST carries at most this many bytes of envelopes; one larger envelope is dropped. */
  maxBatchBytes: number;
  /** At most this many envelopes wait for one peer; more are dropped. */
  maxQueuedPerPeer: number;
}

const DEFAULT_TRANSPORT_CONFIG: TransportConfig = {
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveMs: 10_000,
  connectionsPerPeer: 4,
  maxBatchBytes: 512 * 1024,
  maxQueuedPerPeer: 10_000,
};

/** What the transport needs from its host. */
export interface TransportHooks {
  /** Hands an envelope addressed to this node to the local runtime. */
  deliver(msg: Envelope): void;
  emit(event: ProtocolEvent): void;
  /** Whether anybody listens to events of this type (so unwanted ones are never built). */
  wants(type: string): boolean;
}

/** Counters, for benchmarks and tests. */
export interface TransportStats {
  posts: number;
  envelopesPosted: number;
  postFailures: number;
}

interface Queued {
  msg: Envelope;
  json: string;
  /** UTF-8 length of `json`. */
  bytes: number;
}

interface Link {
  peer: Peer;
  origin: string;
  path: string;
  pool: Pool | undefined;
  queue: Queued[];
  inFlight: number;
  flushScheduled: boolean;
}

let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

export class HttpTransport {
  private readonly config: TransportConfig;
  private readonly links = new Map<NodeId, Link>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly counters: TransportStats = { posts: 0, envelopesPosted: 0, postFailures: 0 };
  private closed = false;

  constructor(
    private readonly self: NodeId,
    private readonly faults: FaultInjector,
    private readonly hooks: TransportHooks,
    config: Partial<TransportConfig> = {},
  ) {
    this.config = { ...DEFAULT_TRANSPORT_CONFIG, ...config };
  }

  /** Sets the peers (the roster; this node's own entry is ignored). Links to removed peers are closed. */
  setPeers(peers: readonly Peer[]): void {
    const wanted = new Map(peers.filter((p) => p.id !== this.self).map((p) => [p.id, p]));
    for (const [id, link] of this.links) {
      const next = wanted.get(id);
      if (next && next.url === link.peer.url) continue;
      this.links.delete(id);
      this.dropAll(link.queue.splice(0), 'send', 'peer removed');
      void link.pool?.destroy();
    }
    for (const [id, peer] of wanted) {
      if (this.links.has(id)) continue;
      const url = new URL(peer.url);
      this.links.set(id, {
        peer,
        origin: url.origin,
        path: `${url.pathname.replace(/\/+$/, '')}/envelope`,
        pool: undefined,
        queue: [],
        inFlight: 0,
        flushScheduled: false,
      });
    }
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Sends an envelope. Never throws; an envelope that cannot go is dropped with an event. */
  send(msg: Envelope): void {
    if (this.closed) return;
    this.event('msg.sent', msg);
    if (!this.links.has(msg.dest)) return this.dropped(msg, 'send', 'unknown destination');
    const verdict = this.faults.onSend(msg.dest);
    if (!verdict.deliver) return this.dropped(msg, 'send', verdict.reason);
    if (verdict.delayMs <= 0) return this.enqueue(msg);
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.enqueue(msg);
    }, verdict.delayMs);
    timer.unref();
    this.delayed.add(timer);
  }

  /** Envelopes that arrived over HTTP: partitions are checked, then each is delivered. */
  receive(msgs: readonly Envelope[]): void {
    for (const msg of msgs) {
      if (this.closed) return;
      const verdict = this.faults.onReceive(msg.src);
      if (!verdict.deliver) this.dropped(msg, 'receive', verdict.reason);
      else this.deliverLocal(msg);
    }
  }

  /** Stops sending: delayed and queued envelopes are discarded and every connection is closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    const pools: Pool[] = [];
    for (const link of this.links.values()) {
      link.queue.length = 0;
      if (link.pool) pools.push(link.pool);
    }
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private deliverLocal(msg: Envelope): void {
    if (this.closed) return;
    this.event('msg.received', msg);
    this.hooks.deliver(msg);
  }

  private enqueue(msg: Envelope): void {
    if (this.closed) return;
    const link = this.links.get(msg.dest);
    if (!link) return this.dropped(msg, 'send', 'unknown destination');
    if (link.queue.length >= this.config.maxQueuedPerPeer) return this.dropped(msg, 'send', 'queue full');
    let json: string;
    try {
      json = JSON.stringify(msg);
    } catch (err) {
      return this.dropped(msg, 'send', `unserializable: ${(err as Error).message}`);
    }
    const bytes = Buffer.byteLength(json);
    if (bytes + 2 > this.config.maxBatchBytes) return this.dropped(msg, 'send', 'too large');
    link.queue.push({ msg, json, bytes });
    this.scheduleFlush(link);
  }

  private scheduleFlush(link: Link): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    setImmediate(() => {
      link.flushScheduled = false;
      this.flush(link);
    });
  }

  private flush(link: Link): void {
    while (!this.closed && link.queue.length > 0 && link.inFlight < this.config.connectionsPerPeer) {
      let bytes = 2;
      let count = 0;
      for (const item of link.queue) {
        const extra = item.bytes + (count > 0 ? 1 : 0);
        if (bytes + extra > this.config.maxBatchBytes) break;
        bytes += extra;
        count++;
      }
      void this.post(link, link.queue.splice(0, count));
    }
  }

  private async post(link: Link, batch: Queued[]): Promise<void> {
    link.inFlight++;
    this.counters.posts++;
    this.counters.envelopesPosted += batch.length;
    try {
      const { Pool } = await loadUndici();
      // The node may have stopped, or the peer left the roster, while undici loaded.
      if (this.closed || this.links.get(link.peer.id) !== link) throw new Error('link closed');
      link.pool ??= new Pool(link.origin, {
        connections: this.config.connectionsPerPeer,
        connectTimeout: this.config.connectTimeoutMs,
        headersTimeout: this.config.requestTimeoutMs,
        bodyTimeout: this.config.requestTimeoutMs,
        keepAliveTimeout: this.config.keepAliveMs,
      });
      const res = await link.pool.request({
        method: 'POST',
        path: link.path,
        headers: { 'content-type': 'application/json' },
        body: `[${batch.map((q) => q.json).join(',')}]`,
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) {
        this.counters.postFailures++;
        this.dropAll(batch, 'send', `http ${res.statusCode}: ${text.slice(0, 200)}`);
      }
    } catch (err) {
      this.counters.postFailures++;
      const e = err as Error & { code?: string };
      this.dropAll(batch, 'send', `unreachable: ${e.code ?? e.message}`);
    } finally {
      link.inFlight--;
      if (link.queue.length > 0) this.scheduleFlush(link);
    }
  }

  private dropAll(batch: readonly Queued[], stage: 'send' | 'receive', reason: string): void {
    for (const q of batch) this.dropped(q.msg, stage, reason);
  }

  private dropped(msg: Envelope, stage: 'send' | 'receive', reason: string): void {
    if (this.closed || !this.hooks.wants('msg.dropped')) return;
    this.hooks.emit({ type: 'msg.dropped', src: msg.src, dest: msg.dest, body: msg.body, stage, reason });
  }

  private event(type: 'msg.sent' | 'msg.received', msg: Envelope): void {
    if (!this.hooks.wants(type)) return;
    this.hooks.emit({ type, src: msg.src, dest: msg.dest, body: msg.body });
  }
}
