/**
 * A tiny deterministic network for multi-node protocol tests: several node
 * runtimes in one process, one virtual clock, one queue of timers and
 * deliveries, and a switch to drop, delay, duplicate or partition messages.
 * It is a test helper, not the simulator (src/sim): no latency models, no
 * traces — just enough to watch a few nodes talk, step by step, with no sleeps.
 */
import type { Body, Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { HostEnv, Protocol, ProtocolEvent, ProtocolFactory, TimerId } from '../../src/protocols/env.js';
import { MemoryStorage, NodeRuntime } from '../../src/protocols/runtime.js';

export interface NetEvent extends ProtocolEvent {
  node: NodeId;
  time: number;
}

export interface LocalNetOptions {
  /**
   * The delays (ms) after which one transmitted envelope arrives: `[]` drops
   * it, two entries duplicate it, different delays reorder. Default: one copy
   * after `latencyMs`.
   */
  route?: (msg: Envelope, net: LocalNet) => number[];
  /** One-way delay of the default route (ms). */
  latencyMs?: number;
  seed?: number;
}

/** A request a test client made; `reply` is filled when the answer arrives. */
export interface Call {
  body: Body;
  reply?: Body;
  repliedAt?: number;
}

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
}

class LocalHost implements HostEnv {
  storage: MemoryStorage;
  private seed: number;
  constructor(
    readonly id: NodeId,
    private readonly net: LocalNet,
    seed: number,
  ) {
    this.seed = seed;
    this.storage = this.freshDisk();
  }
  freshDisk(): MemoryStorage {
    return new MemoryStorage((fn) => this.net.schedule(0, fn));
  }
  members(): readonly NodeId[] {
    return this.net.ids;
  }
  now(): number {
    return this.net.now;
  }
  random(): number {
    // mulberry32, seeded per node
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  transmit(msg: Envelope): void {
    this.net.transmit(msg);
  }
  setTimer(delayMs: number, fn: () => void): TimerId {
    return this.net.schedule(delayMs, fn);
  }
  clearTimer(timer: TimerId): void {
    this.net.cancel(timer);
  }
  emit(event: ProtocolEvent): void {
    this.net.events.push({ ...event, node: this.id, time: this.net.now });
  }
}

export class LocalNet {
  now = 0;
  /** Every event every node emitted, in order. */
  readonly events: NetEvent[] = [];
  /** Every envelope a node transmitted to another node (client traffic excluded). */
  readonly sent: Envelope[] = [];
  readonly ids: NodeId[];
  private readonly hosts = new Map<NodeId, LocalHost>();
  private readonly runtimes = new Map<NodeId, NodeRuntime>();
  private readonly down = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private readonly calls = new Map<number, Call>();
  private queue: Scheduled[] = [];
  private readonly cancelled = new Set<number>();
  private nextSeq = 1;
  private nextClientMsg = 1;
  private readonly route: (msg: Envelope, net: LocalNet) => number[];

  constructor(
    ids: NodeId[],
    private readonly factories: ProtocolFactory[],
    options: LocalNetOptions = {},
  ) {
    this.ids = ids;
    const latency = options.latencyMs ?? 1;
    this.route = options.route ?? (() => [latency]);
    ids.forEach((id, i) => {
      const host = new LocalHost(id, this, (options.seed ?? 1) * 1000 + i);
      this.hosts.set(id, host);
      this.boot(id);
    });
  }

  /** The protocol `name` running on node `id`. */
  protocol<P extends Protocol>(id: NodeId, name: string): P {
    const p = this.runtimes.get(id)?.protocol<P>(name);
    if (!p) throw new Error(`node ${id} runs no protocol '${name}'`);
    return p;
  }

  /** Events of one type, optionally from one node. */
  eventsOf(type: string, node?: NodeId): NetEvent[] {
    return this.events.filter((e) => e.type === type && (node === undefined || e.node === node));
  }

  /** A client (any id outside the roster) sends a request to a node. */
  request(node: NodeId, body: Body, client = 'c1'): Call {
    const msgId = this.nextClientMsg++;
    const call: Call = { body: { ...body, msg_id: msgId } };
    this.calls.set(msgId, call);
    this.transmit({ src: client, dest: node, body: call.body });
    return call;
  }

  // --- faults ---------------------------------------------------------------

  /** Messages from `from` to `to` are lost (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }
  /** No message crosses between the two groups, either way. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) for (const y of b) (this.cut(x, y), this.cut(y, x));
  }
  heal(): void {
    this.cuts.clear();
  }
  /** The node stops: its timers die, messages to it are lost. */
  crash(id: NodeId): void {
    this.down.add(id);
    this.runtimes.get(id)?.stop();
  }
  /** A fresh node object on the same storage, as after a process restart; `wipe` loses the disk too. */
  restart(id: NodeId, { wipe = false } = {}): void {
    const host = this.hosts.get(id) as LocalHost;
    if (wipe) host.storage = host.freshDisk();
    this.down.delete(id);
    this.boot(id);
  }

  // --- time -------------------------------------------------------------------

  /** Runs every timer and delivery due within the next `ms`. */
  run(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.now = next.at;
      if (!this.cancelled.delete(next.seq)) next.fn();
    }
    this.now = until;
  }

  /** Runs until `done()` holds, checking after each step; false if `maxMs` passed first. */
  runUntil(done: () => boolean, maxMs = 60_000): boolean {
    const until = this.now + maxMs;
    while (!done()) {
      const next = this.queue[0];
      if (!next || next.at > until) {
        this.now = until;
        return done();
      }
      this.run(next.at - this.now);
    }
    return true;
  }

  // --- plumbing used by the hosts ---------------------------------------------

  schedule(delayMs: number, fn: () => void): number {
    const item = { at: this.now + Math.max(0, delayMs), seq: this.nextSeq++, fn };
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

  cancel(seq: number): void {
    this.cancelled.add(seq);
  }

  transmit(msg: Envelope): void {
    if (this.down.has(msg.src)) return; // e.g. a storage callback firing after the crash
    const between = this.hosts.has(msg.src) && this.hosts.has(msg.dest);
    if (between) this.sent.push(msg);
    if (this.cuts.has(`${msg.src}>${msg.dest}`)) return;
    for (const delay of this.route(msg, this)) {
      this.schedule(delay, () => this.arrive(msg));
    }
  }

  private arrive(msg: Envelope): void {
    const runtime = this.runtimes.get(msg.dest);
    if (runtime) {
      if (!this.down.has(msg.dest)) runtime.deliver(msg);
      return;
    }
    const call = typeof msg.body.in_reply_to === 'number' ? this.calls.get(msg.body.in_reply_to) : undefined;
    if (call && !call.reply) {
      call.reply = msg.body;
      call.repliedAt = this.now;
    }
  }

  private boot(id: NodeId): void {
    const runtime = new NodeRuntime(this.hosts.get(id) as LocalHost, this.factories);
    this.runtimes.set(id, runtime);
    runtime.start();
  }
}
