/**
 * A small deterministic in-memory network of NodeRuntimes for multi-node
 * protocol tests: one virtual clock and timer queue shared by every node,
 * seeded randomness (src/sim/rng.ts), a fixed latency with jitter or a
 * uniform latency range or a route that drops, duplicates and reorders, loss,
 * a drop predicate, one-way cuts and partitions, a disk whose
 * writes become durable a little later (src/sim/storage.ts), crash/restart
 * that keeps only durable writes, client requests and their replies, and
 * every emitted event. Clients are ids that are not nodes.
 *
 * It is deliberately small (no fault schedules, no traces); the real
 * simulator is src/sim/world.ts.
 */
import type { Body, Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { HostEnv, Protocol, ProtocolEvent, ProtocolFactory, StampedEvent, TimerId } from '../../src/protocols/env.js';
import { NodeRuntime } from '../../src/protocols/runtime.js';
import { Rng } from '../../src/sim/rng.js';
import { SimStorage } from '../../src/sim/storage.js';

export interface TestNetOptions {
  seed?: number;
  /** One-way latency in ms: a fixed delay (default 1), or uniform whole ms in [min, max]. */
  latencyMs?: number | [number, number];
  /** With a fixed latency: extra uniform jitter in [0, jitterMs) ms (default 0). */
  jitterMs?: number;
  /** Probability that a message is lost (default 0). */
  loss?: number;
  /** Virtual ms from a storage write until it is durable, in order per node (default 1). */
  diskDelayMs?: number;
  /** The roster a node sees from env.members(); default: the net's `members`. */
  roster?: (id: NodeId) => NodeId[];
  /**
   * The delays (ms) after which one transmitted envelope arrives, instead of
   * the latency: `[]` drops it, two entries duplicate it, different delays reorder.
   */
  route?: (msg: Envelope, net: TestNet) => number[];
}

/** A client request and, once it came, its reply. */
export interface ClientCall {
  node: NodeId;
  body: Body;
  sentAt: number;
  reply?: Body;
  repliedAt?: number;
  onReply?: (reply: Body) => void;
}

interface Scheduled {
  at: number;
  seq: number;
  owner: NodeId | null;
  fn: () => void;
}

class TestNode implements HostEnv {
  runtime!: NodeRuntime;
  storage: SimStorage;
  up = false;
  /** Disk writes are durable in order: the next one is due no earlier than this. */
  diskFree = 0;
  private eventSeq = 0;
  constructor(
    readonly id: NodeId,
    private readonly net: TestNet,
    private readonly roster: NodeId[] | undefined,
  ) {
    this.storage = this.freshDisk();
  }
  freshDisk(): SimStorage {
    return new SimStorage((apply) => {
      const at = Math.max(this.net.now, this.diskFree) + this.net.diskDelayMs;
      this.diskFree = at;
      this.net.schedule(at - this.net.now, this.id, apply);
    });
  }
  members(): readonly NodeId[] {
    return this.roster ?? this.net.members;
  }
  now(): number {
    return this.net.now;
  }
  random(): number {
    return this.net.random();
  }
  transmit(msg: Envelope): void {
    this.net.transmit(msg);
  }
  setTimer(delayMs: number, fn: () => void): TimerId {
    return this.net.schedule(delayMs, this.id, fn);
  }
  clearTimer(timer: TimerId): void {
    this.net.cancel(timer);
  }
  emit(event: ProtocolEvent): void {
    this.net.events.push({ ...event, node: this.id, time: this.net.now, seq: ++this.eventSeq });
  }
}

export class TestNet {
  now = 0;
  /** The roster nodes see by default; `add` creates a node without listing it here. */
  members: NodeId[];
  readonly nodes = new Map<NodeId, TestNode>();
  /** Every event every node emitted, in order. */
  readonly events: StampedEvent[] = [];
  /** Every envelope a running node transmitted to another node (client traffic excluded), delivered or not. */
  readonly sent: Envelope[] = [];
  /** Return true to drop an envelope between two nodes (partitions, one-way cuts, lost replies). */
  drop: (msg: Envelope) => boolean = () => false;
  private readonly loss: number;
  readonly diskDelayMs: number;
  private readonly rng: Rng;
  private readonly latency: number | [number, number];
  private readonly jitterMs: number;
  private readonly roster?: (id: NodeId) => NodeId[];
  private readonly route?: (msg: Envelope, net: TestNet) => number[];
  private readonly cuts = new Set<string>();
  private queue: Scheduled[] = [];
  private readonly cancelled = new Set<number>();
  private nextSeq = 1;
  private readonly calls = new Map<string, ClientCall>();
  private nextClientMsg = 1;

  /** Creates and starts a node for every id. */
  constructor(
    ids: NodeId[],
    private readonly factories: (id: NodeId) => ProtocolFactory[],
    options: TestNetOptions = {},
  ) {
    this.members = [...ids];
    this.rng = Rng.stream(options.seed ?? 1, 'test-net');
    this.latency = options.latencyMs ?? 1;
    this.jitterMs = options.jitterMs ?? 0;
    this.loss = options.loss ?? 0;
    this.diskDelayMs = options.diskDelayMs ?? 1;
    this.roster = options.roster;
    this.route = options.route;
    for (const id of ids) this.add(id);
  }

  /** Creates and starts a node (not a member until `members` lists it). */
  add(id: NodeId): void {
    const node = new TestNode(id, this, this.roster?.(id));
    this.nodes.set(id, node);
    this.boot(node);
  }

  random(): number {
    return this.rng.float();
  }

  /** The runtime of node `id`. */
  node(id: NodeId): NodeRuntime {
    return this.host(id).runtime;
  }

  /** The protocol `name` running on node `id`. */
  protocol<P extends Protocol>(id: NodeId, name: string): P {
    const p = this.node(id).protocol<P>(name);
    if (!p) throw new Error(`node ${id} runs no protocol '${name}'`);
    return p;
  }

  isUp(id: NodeId): boolean {
    return this.host(id).up;
  }

  // --- faults ---------------------------------------------------------------

  /** The node stops at once: its timers die, messages to it are lost, writes not yet durable are gone. */
  crash(id: NodeId): void {
    const node = this.host(id);
    if (!node.up) return;
    node.up = false;
    node.runtime.stop();
    this.queue = this.queue.filter((t) => t.owner !== id);
    node.diskFree = 0;
    node.storage.crash();
  }

  /** A fresh runtime over the node's surviving storage; `wipe` loses the disk too. */
  restart(id: NodeId, { wipe = false } = {}): void {
    const node = this.host(id);
    if (node.up) return;
    if (wipe) node.storage = node.freshDisk();
    this.boot(node);
  }

  /** Messages from `from` to `to` are lost (one way) until `heal`. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Cuts the nodes into groups that cannot talk to each other (nodes in no group are cut off from all). */
  partition(...groups: NodeId[][]): void {
    const side = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((n) => side.set(n, i)));
    this.drop = (msg) => side.get(msg.src) !== side.get(msg.dest) || side.get(msg.src) === undefined;
  }

  heal(): void {
    this.drop = () => false;
    this.cuts.clear();
  }

  // --- clients ----------------------------------------------------------------

  /** A client sends a request to a node; the returned call gets its reply when it arrives. */
  request(node: NodeId, body: Omit<Body, 'msg_id'>, client = 'c1', onReply?: (reply: Body) => void): ClientCall {
    const msgId = this.nextClientMsg++;
    const call: ClientCall = { node, body: { ...body, msg_id: msgId } as Body, sentAt: this.now, ...(onReply ? { onReply } : {}) };
    this.calls.set(`${client}:${msgId}`, call);
    this.transmit({ src: client, dest: node, body: call.body });
    return call;
  }

  /** Sends a request and runs the network until it is answered; throws if `withinMs` pass first. */
  ask(node: NodeId, body: Omit<Body, 'msg_id'>, withinMs = 5000): Body {
    const call = this.request(node, body);
    this.runUntil(() => call.reply !== undefined, withinMs);
    if (!call.reply) throw new Error(`no reply to ${JSON.stringify(body)} from ${node} within ${withinMs} ms`);
    return call.reply;
  }

  /** Events of `type` since virtual time `since`, optionally from one node. */
  eventsOf(type: string, since = 0, node?: NodeId): StampedEvent[] {
    return this.events.filter((e) => e.type === type && e.time >= since && (node === undefined || e.node === node));
  }

  // --- time -------------------------------------------------------------------

  /** Advances the virtual clock by `ms`, running everything due. */
  run(ms: number): void {
    const until = this.now + ms;
    this.runUntil(() => false, ms);
    this.now = until;
  }

  /**
   * Runs until `done()` holds (checked first, then after every step) or
   * `withinMs` of virtual time pass. Returns the virtual time it took, or
   * undefined if the deadline passed first.
   */
  runUntil(done: () => boolean, withinMs = 60_000): number | undefined {
    const start = this.now;
    const deadline = start + withinMs;
    if (done()) return 0;
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > deadline) {
        this.now = deadline;
        return undefined;
      }
      this.queue.shift();
      if (this.cancelled.delete(next.seq)) continue;
      this.now = next.at;
      next.fn();
      if (done()) return this.now - start;
    }
  }

  /** Runs `fn` after `delayMs`; a node's own items (`owner`) die with it when it crashes. */
  schedule(delayMs: number, owner: NodeId | null, fn: () => void): TimerId {
    const item: Scheduled = { at: this.now + Math.max(0, delayMs), seq: this.nextSeq++, owner, fn };
    // keep the queue sorted by (time, insertion order)
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.queue[mid] as Scheduled).at <= item.at) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
    return item.seq;
  }

  cancel(timer: TimerId): void {
    this.cancelled.add(timer as number);
  }

  transmit(msg: Envelope): void {
    const src = this.nodes.get(msg.src);
    if (src && !src.up) return;
    if (src && this.nodes.has(msg.dest)) {
      this.sent.push(msg);
      if (msg.src !== msg.dest && this.drop(msg)) return;
    }
    if (this.cuts.has(`${msg.src}>${msg.dest}`)) return;
    if (this.loss > 0 && this.rng.float() < this.loss) return;
    for (const delay of this.route ? this.route(msg, this) : [this.delay()]) this.schedule(delay, null, () => this.arrive(msg));
  }

  private delay(): number {
    if (Array.isArray(this.latency)) {
      const [lo, hi] = this.latency;
      return lo + this.rng.int(hi - lo + 1);
    }
    return this.latency + (this.jitterMs > 0 ? this.rng.float() * this.jitterMs : 0);
  }

  private arrive(msg: Envelope): void {
    const node = this.nodes.get(msg.dest);
    if (node) {
      if (node.up) node.runtime.deliver(msg);
      return;
    }
    const call = this.calls.get(`${msg.dest}:${msg.body.in_reply_to}`);
    if (call && !call.reply) {
      call.reply = msg.body;
      call.repliedAt = this.now;
      call.onReply?.(msg.body);
    }
  }

  private host(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  private boot(node: TestNode): void {
    node.runtime = new NodeRuntime(node, this.factories(node.id));
    node.up = true;
    node.runtime.start();
  }
}
