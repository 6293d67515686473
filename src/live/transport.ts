/**
 * How envelopes travel between live nodes: one WebSocket per peer, opened
 * by the sender to the peer's `/envelope` route, carrying text frames that
 * are JSON arrays of envelopes. Traffic is one-way on each socket (a node
 * sends on the socket it opened and receives on the ones its peers opened),
 * and nothing is acknowledged at this level: protocols that need an answer
 * ask for one (env.rpc).
 *
 * Why not one HTTP POST per batch (as before)? Each POST costs a request
 * and a response to write, parse and route on both sides, and each is a
 * separate wakeup. A replicated write needs four node-to-node messages, so
 * at a thousand writes a second the POSTs were most of the cluster's CPU.
 * A frame on an open socket is one write and one parse.
 *
 * - Batching: envelopes for the same peer queued in the same turn of the
 *   event loop leave together in one frame (split only when a frame would
 *   exceed `maxBatchBytes`; one larger envelope, up to `maxEnvelopeBytes`,
 *   leaves in a frame of its own). While the socket is connecting they wait.
 * - Loss is normal: the transport never throws into the protocol. An
 *   envelope that cannot be sent (peer down, refused, partition, injected
 *   drop, queue full, socket backed up) is simply lost, and a `msg.dropped`
 *   event says where and why. After a failed connection the link waits a
 *   little (doubling from 50 ms to 1 s) before it dials again; envelopes
 *   sent meanwhile are dropped at once as unreachable.
 * - A socket that stops answering pings within `requestTimeoutMs` is cut
 *   and dialled again, so a silently dead peer (a pulled cable, a dropped
 *   packet filter) does not swallow frames for long.
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
 * The receiving side (the `/envelope` upgrade and the frame checks) is in
 * host.ts; `ws` is loaded on the first send, so a node alone never pays it.
 */

import type WebSocket from 'ws';
import type { Envelope, NodeId } from '../protocols/envelope.js';
import type { ProtocolEvent } from '../protocols/env.js';
import type { FaultInjector } from './faults.js';

/** A member of the cluster and the base URL its HTTP server answers on. */
export interface Peer {
  id: NodeId;
  url: string;
}

export interface TransportConfig {
  /** Give up opening a socket to a peer after this long. */
  connectTimeoutMs: number;
  /** A socket whose peer has not answered a ping for this long is cut and dialled again. */
  requestTimeoutMs: number;
  /** Envelopes queued together leave in frames of at most this many bytes; one larger envelope leaves alone. */
  maxBatchBytes: number;
  /**
   * One envelope larger than this is dropped: the most a receiving node takes in one frame
   * (MAX_FRAME_BYTES). A replica write carries the whole value, so this
   * bounds the values a cluster can replicate; /data accepts smaller ones (routes/data.ts).
   */
  maxEnvelopeBytes: number;
  /** At most this many envelopes wait for one peer (while connecting); more are dropped. */
  maxQueuedPerPeer: number;
  /** Envelopes are dropped while more than this many bytes wait in a socket's send buffer. */
  maxBufferedBytes: number;
}

/** The largest frame a node receives from a peer (the `/envelope` socket's limit), and so the largest envelope it sends. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

const DEFAULT_TRANSPORT_CONFIG: TransportConfig = {
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  maxBatchBytes: 512 * 1024,
  maxEnvelopeBytes: MAX_FRAME_BYTES,
  maxQueuedPerPeer: 10_000,
  maxBufferedBytes: 8 * 1024 * 1024,
};

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1_000;

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
  /** Frames sent, and the envelopes they carried. */
  frames: number;
  envelopesSent: number;
  /** Sockets that failed to open or broke. */
  failures: number;
  /** Batches received from peers (frames, or POSTs to /envelope). */
  batchesReceived: number;
}

interface Queued {
  msg: Envelope;
  json: string;
  /** UTF-8 length of `json`. */
  bytes: number;
}

interface Link {
  peer: Peer;
  /** ws:// (or wss://) URL of the peer's /envelope route. */
  url: string;
  socket: WebSocket | undefined;
  queue: Queued[];
  flushScheduled: boolean;
  /** After a failure: no new dial before this time; envelopes meanwhile are dropped with `lastError`. */
  retryAt: number;
  retryMs: number;
  lastError: string;
  /** A ping is out and no pong has come back yet. */
  awaitingPong: boolean;
  heartbeat: NodeJS.Timeout | undefined;
}

let wsModule: Promise<typeof import('ws')> | undefined;
const loadWs = () => (wsModule ??= import('ws'));

export class PeerTransport {
  private readonly config: TransportConfig;
  private readonly links = new Map<NodeId, Link>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly counters: TransportStats = { frames: 0, envelopesSent: 0, failures: 0, batchesReceived: 0 };
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
      this.hangUp(link);
    }
    for (const [id, peer] of wanted) {
      if (this.links.has(id)) continue;
      const url = new URL(peer.url);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.pathname = `${url.pathname.replace(/\/+$/, '')}/envelope`;
      this.links.set(id, {
        peer,
        url: url.toString(),
        socket: undefined,
        queue: [],
        flushScheduled: false,
        retryAt: 0,
        retryMs: RETRY_MIN_MS,
        lastError: '',
        awaitingPong: false,
        heartbeat: undefined,
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

  /** A batch of envelopes that arrived from a peer: partitions are checked, then each is delivered. */
  receive(msgs: readonly Envelope[]): void {
    this.counters.batchesReceived++;
    for (const msg of msgs) {
      if (this.closed) return;
      const verdict = this.faults.onReceive(msg.src);
      if (!verdict.deliver) this.dropped(msg, 'receive', verdict.reason);
      else this.deliverLocal(msg);
    }
  }

  /** Stops sending: delayed and queued envelopes are discarded and every socket is closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    for (const link of this.links.values()) {
      link.queue.length = 0;
      this.hangUp(link);
    }
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
    if (!link.socket && Date.now() < link.retryAt) return this.dropped(msg, 'send', `unreachable: ${link.lastError}`);
    if (link.queue.length >= this.config.maxQueuedPerPeer) return this.dropped(msg, 'send', 'queue full');
    let json: string;
    try {
      json = JSON.stringify(msg);
    } catch (err) {
      return this.dropped(msg, 'send', `unserializable: ${(err as Error).message}`);
    }
    const bytes = Buffer.byteLength(json);
    if (bytes + 2 > this.config.maxEnvelopeBytes) return this.dropped(msg, 'send', 'too large');
    link.queue.push({ msg, json, bytes });
    if (!link.socket) void this.dial(link);
    else if (isOpen(link.socket)) this.scheduleFlush(link);
  }

  private scheduleFlush(link: Link): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    setImmediate(() => {
      link.flushScheduled = false;
      this.flush(link);
    });
  }

  /** Sends everything queued for an open link, in frames of at most maxBatchBytes. */
  private flush(link: Link): void {
    const socket = link.socket;
    if (this.closed || !socket || !isOpen(socket)) return;
    while (link.queue.length > 0) {
      let bytes = 2;
      let count = 0;
      for (const item of link.queue) {
        const extra = item.bytes + (count > 0 ? 1 : 0);
        // A frame holds at least one envelope: one larger than a batch leaves alone.
        if (count > 0 && bytes + extra > this.config.maxBatchBytes) break;
        bytes += extra;
        count++;
      }
      const batch = link.queue.splice(0, count);
      if (socket.bufferedAmount > this.config.maxBufferedBytes) {
        this.dropAll(batch, 'send', 'peer not keeping up');
        continue;
      }
      this.counters.frames++;
      this.counters.envelopesSent += batch.length;
      socket.send(`[${batch.map((q) => q.json).join(',')}]`);
    }
  }

  /** Opens the socket of a link; queued envelopes leave once it is open, or are dropped if it fails. */
  private async dial(link: Link): Promise<void> {
    const { WebSocket } = await loadWs();
    // The node may have stopped, or the peer left the roster, while ws loaded.
    if (this.closed || this.links.get(link.peer.id) !== link || link.socket) return;
    const socket = new WebSocket(link.url, { perMessageDeflate: false, handshakeTimeout: this.config.connectTimeoutMs, maxPayload: this.config.maxEnvelopeBytes });
    link.socket = socket;
    socket.on('open', () => {
      link.retryMs = RETRY_MIN_MS;
      link.awaitingPong = false;
      link.heartbeat = setInterval(() => {
        if (link.awaitingPong) return this.broken(link, socket, 'no answer to ping');
        link.awaitingPong = true;
        socket.ping();
      }, this.config.requestTimeoutMs);
      link.heartbeat.unref();
      this.flush(link);
    });
    socket.on('pong', () => (link.awaitingPong = false));
    // Peers never send on a socket this node opened; anything that comes is ignored.
    socket.on('error', (err: Error & { code?: string }) => this.broken(link, socket, err.code ?? err.message));
    socket.on('close', (code) => this.broken(link, socket, `closed (${code})`));
    socket.on('unexpected-response', (_req, res) => this.broken(link, socket, `http ${res.statusCode}`));
  }

  /** A link's socket failed or closed: drop what waits, back off before dialling again. */
  private broken(link: Link, socket: WebSocket, reason: string): void {
    if (link.socket !== socket) return; // an old socket's late event
    this.counters.failures++;
    this.hangUp(link);
    link.lastError = reason;
    link.retryAt = Date.now() + link.retryMs;
    link.retryMs = Math.min(RETRY_MAX_MS, link.retryMs * 2);
    this.dropAll(link.queue.splice(0), 'send', `unreachable: ${reason}`);
  }

  private hangUp(link: Link): void {
    if (link.heartbeat) clearInterval(link.heartbeat);
    link.heartbeat = undefined;
    const socket = link.socket;
    link.socket = undefined;
    socket?.terminate();
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

function isOpen(socket: WebSocket | undefined): socket is WebSocket {
  return socket !== undefined && socket.readyState === socket.OPEN;
}
