/**
 * A tiny in-memory network of NodeRuntimes for multi-node protocol tests:
 * one virtual clock, one timer queue, seeded randomness, a fixed one-way
 * latency with optional jitter, loss, crashes and partitions given as
 * predicates. It is a test helper, not the simulator (src/sim): no
 * scheduling of faults, no traces — just enough to run a handful of nodes
 * for virtual minutes in a few milliseconds of wall time.
 */
import type { Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { HostEnv, ProtocolEvent, ProtocolFactory, StampedEvent, TimerId } from '../../src/protocols/env.js';
import { MemoryStorage, NodeRuntime } from '../../src/protocols/runtime.js';

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
}

export interface NetOptions {
  seed?: number;
  /** One-way latency in ms (default 1). */
  latencyMs?: number;
  /** Extra uniform jitter in [0, jitterMs) ms added to each message (default 0). */
  jitterMs?: number;
  /** Probability that a message is lost (default 0). */
  loss?: number;
  /** The roster each node sees from env.members(); defaults to every node id. */
  roster?: (id: NodeId) => NodeId[];
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class NetNode implements HostEnv {
  runtime!: NodeRuntime;
  readonly storage: MemoryStorage;
  up = false;
  private eventSeq = 0;
  constructor(
    readonly id: NodeId,
    private readonly net: ElectNet,
    private readonly roster: NodeId[],
  ) {
    this.storage = new MemoryStorage((fn) => this.net.schedule(0, fn));
  }
  members(): readonly NodeId[] {
    return this.roster;
  }
  now(): number {
    return this.net.now;
  }
  random(): number {
    return this.net.random();
  }
  transmit(msg: Envelope): void {
    this.net.send(msg);
  }
  setTimer(delayMs: number, fn: () => void): TimerId {
    return this.net.schedule(delayMs, fn);
  }
  clearTimer(timer: TimerId): void {
    this.net.cancel(timer);
  }
  emit(event: ProtocolEvent): void {
    this.net.events.push({ ...event, node: this.id, time: this.net.now, seq: ++this.eventSeq });
  }
}

export class ElectNet {
  now = 0;
  readonly events: StampedEvent[] = [];
  /** Every envelope handed to the network (delivered or not). */
  messagesSent = 0;
  /** Drops a message when it returns true (partitions, one-way cuts). */
  cut: (src: NodeId, dest: NodeId) => boolean = () => false;
  loss: number;
  private readonly queue: Scheduled[] = [];
  private readonly cancelled = new Set<number>();
  private seq = 0;
  readonly random: () => number;
  private readonly nodes = new Map<NodeId, NetNode>();
  private readonly latencyMs: number;
  private readonly jitterMs: number;
  /** Replies that reached a client id, keyed by client. */
  readonly clientInbox = new Map<NodeId, Envelope[]>();
  private clientMsgId = 1;

  constructor(
    ids: NodeId[],
    private readonly factories: (id: NodeId) => ProtocolFactory[],
    opts: NetOptions = {},
  ) {
    this.random = prng(opts.seed ?? 1);
    this.latencyMs = opts.latencyMs ?? 1;
    this.jitterMs = opts.jitterMs ?? 0;
    this.loss = opts.loss ?? 0;
    for (const id of ids) this.nodes.set(id, new NetNode(id, this, opts.roster ? opts.roster(id) : ids));
  }

  /** Starts every node (or the ones named). */
  startAll(ids: NodeId[] = [...this.nodes.keys()]): void {
    for (const id of ids) this.restart(id);
  }

  node(id: NodeId): NetNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The protocol object `name` on node `id` (undefined while the node is down). */
  protocol<P>(id: NodeId, name: string): P {
    const p = this.node(id).runtime.protocol(name);
    if (!p) throw new Error(`node ${id} runs no protocol ${name}`);
    return p as unknown as P;
  }

  isUp(id: NodeId): boolean {
    return this.node(id).up;
  }

  /** Crash-stop: the node's timers are cancelled and it hears nothing more. Storage survives. */
  crash(id: NodeId): void {
    const n = this.node(id);
    n.up = false;
    n.runtime.stop();
  }

  /** (Re)starts a node with fresh protocol objects over its surviving storage. */
  restart(id: NodeId): void {
    const n = this.node(id);
    n.runtime = new NodeRuntime(n, this.factories(id));
    n.up = true;
    n.runtime.start();
  }

  /** Cuts both directions between the two groups (everything else keeps working). */
  partition(a: NodeId[], b: NodeId[]): void {
    const A = new Set(a);
    const B = new Set(b);
    this.cut = (s, d) => (A.has(s) && B.has(d)) || (B.has(s) && A.has(d));
  }

  heal(): void {
    this.cut = () => false;
  }

  schedule(delayMs: number, fn: () => void): number {
    const item: Scheduled = { at: this.now + Math.max(0, delayMs), seq: ++this.seq, fn };
    // keep the queue sorted by (at, seq); insert from the back, where most new items go
    let i = this.queue.length;
    while (i > 0) {
      const prev = this.queue[i - 1]!;
      if (prev.at < item.at || (prev.at === item.at && prev.seq < item.seq)) break;
      i--;
    }
    this.queue.splice(i, 0, item);
    return item.seq;
  }

  cancel(id: number): void {
    this.cancelled.add(id);
  }

  send(msg: Envelope): void {
    this.messagesSent++;
    if (this.cut(msg.src, msg.dest)) return;
    if (this.loss > 0 && this.random() < this.loss) return;
    const delay = this.latencyMs + (this.jitterMs > 0 ? this.random() * this.jitterMs : 0);
    this.schedule(delay, () => {
      const dest = this.nodes.get(msg.dest);
      if (dest) {
        if (dest.up) dest.runtime.deliver(msg);
        return;
      }
      const inbox = this.clientInbox.get(msg.dest) ?? [];
      inbox.push(msg);
      this.clientInbox.set(msg.dest, inbox);
    });
  }

  /** A client (an id that is no node) sends a request to a node; returns its msg_id. */
  clientSend(client: NodeId, dest: NodeId, body: Envelope['body']): number {
    const msgId = this.clientMsgId++;
    this.send({ src: client, dest, body: { ...body, msg_id: msgId } });
    return msgId;
  }

  /** Sends a client request and runs the network until its reply arrives (or `withinMs` passes). */
  ask(dest: NodeId, body: Envelope['body'], withinMs = 1000, client = 'c1'): Envelope['body'] | undefined {
    const id = this.clientSend(client, dest, body);
    let reply: Envelope['body'] | undefined;
    this.runUntil(() => {
      reply = this.clientInbox.get(client)?.find((m) => m.body.in_reply_to === id)?.body;
      return reply !== undefined;
    }, withinMs);
    return reply;
  }

  /** Runs the queue until virtual time `this.now + ms`. */
  run(ms: number): void {
    const until = this.now + ms;
    this.runUntil(() => false, ms);
    this.now = until;
  }

  /**
   * Runs until `done()` holds (checked after every step) or `withinMs` of
   * virtual time pass. Returns the virtual time elapsed when done, or
   * undefined if the deadline passed first.
   */
  runUntil(done: () => boolean, withinMs: number): number | undefined {
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

  /** Events of `type` (optionally from one node) since virtual time `since`. */
  eventsOf(type: string, since = 0, node?: NodeId): StampedEvent[] {
    return this.events.filter((e) => e.type === type && e.time >= since && (node === undefined || e.node === node));
  }
}
