/**
 * The simulated world: many nodes in one process, one virtual clock.
 *
 * Each node is the very NodeRuntime a live node runs, handed a sim HostEnv
 * whose clock is the world's virtual clock, whose randomness is the node's
 * own seeded stream, whose timers and storage writes are entries on the
 * world's agenda, and whose `transmit` hands envelopes to the network model.
 * The world pops the agenda in (time, seq) order, so a run is a pure function
 * of its seed and its inputs: the same seed gives the same trace hash.
 *
 * A crash drops the node's runtime on the floor: its pending timers, its
 * storage writes that were not yet durable, and the messages in flight *to*
 * it are lost (each is tagged with the node's incarnation and discarded when
 * it comes due). A restart builds fresh protocol objects over the same
 * durable storage.
 */
import { ErrorCode, errorBody, type Body, type Envelope, type NodeId } from '../protocols/envelope.js';
import type { HostEnv, ProtocolEvent, ProtocolFactory, StampedEvent, TimerId } from '../protocols/env.js';
import { NodeRuntime } from '../protocols/runtime.js';
import type { Protocol } from '../protocols/env.js';
import { EventQueue } from './event-queue.js';
import { DEFAULT_NETWORK, NetworkModel, SimConfigError, type NetworkConfig } from './network.js';
import { Rng } from './rng.js';
import { MessageStats } from './stats.js';
import { SimStorage } from './storage.js';
import { TraceHash } from './trace-hash.js';

export interface WorldOptions {
  /** The run's seed: a safe integer >= 0. */
  seed: number;
  /** Member ids in roster order. */
  nodes: readonly NodeId[];
  /** The protocols every node runs. */
  protocols: readonly ProtocolFactory[];
  network?: Partial<NetworkConfig>;
  /** Virtual milliseconds from a storage write until it is durable (default 1). */
  diskDelayMs?: number;
  /** Receives every event any node emits, stamped, plus the world's own `sim.*` events. */
  onEvent?: (event: StampedEvent) => void;
}

const enum Kind {
  Deliver,
  Timer,
  /** A node-bound callback (storage durability): skipped if the node crashed since. */
  NodeTask,
  /** A world-level action (fault schedule, client timeout). */
  Action,
}

/** One entry on the agenda. A single shape for every kind keeps the hot path monomorphic. */
class Item {
  cancelled = false;
  constructor(
    public time: number,
    public seq: number,
    public kind: Kind,
    public node: SimNode | null,
    public incarnation: number,
    public msg: Envelope | null,
    public fn: (() => void) | null,
    public timer: number,
  ) {}
}

/** Member ids "1".."n", the simulator's usual roster. */
export function nodeIds(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => String(i + 1));
}

/** Handle of something scheduled on the world's agenda. */
export interface Cancellable {
  cancel(): void;
}

class SimNode implements HostEnv {
  readonly storage: SimStorage;
  readonly rng: Rng;
  runtime: NodeRuntime | null = null;
  up = false;
  incarnation = 0;
  eventSeq = 0;

  constructor(
    readonly id: NodeId,
    private readonly world: World,
    seed: number,
  ) {
    this.rng = Rng.stream(seed, `node:${id}`);
    this.storage = new SimStorage((apply) => world.scheduleNodeTask(this, world.diskDelayMs, apply));
  }

  members(): readonly NodeId[] {
    return this.world.members;
  }
  now(): number {
    return this.world.now;
  }
  random(): number {
    return this.rng.float();
  }
  transmit(msg: Envelope): void {
    this.world.transmit(msg);
  }
  setTimer(delayMs: number, fn: () => void): TimerId {
    return this.world.setNodeTimer(this, delayMs, fn);
  }
  clearTimer(timer: TimerId): void {
    this.world.clearNodeTimer(timer);
  }
  emit(event: ProtocolEvent): void {
    this.world.record(this, event);
  }
}

/** Called with a reply, or with an indefinite timeout error. */
export type ClientReplyHandler = (reply: Body) => void;

/**
 * A simulated client: an id outside the member list that sends requests to
 * nodes and gets their replies, as a user (or Maelstrom's workload) would.
 */
export class SimClient {
  private nextMsgId = 1;
  private readonly pending = new Map<number, { onReply: ClientReplyHandler; timeout: Cancellable }>();

  constructor(
    readonly id: NodeId,
    private readonly world: World,
  ) {}

  /** Sends `body` to `dest` with a fresh msg_id; `onReply` gets the reply or, after `timeoutMs`, a timeout error. */
  request(dest: NodeId, body: Body, onReply: ClientReplyHandler, timeoutMs = 1000): number {
    const msgId = this.nextMsgId++;
    const timeout = this.world.after(timeoutMs, () => {
      if (this.pending.delete(msgId)) onReply(errorBody(ErrorCode.Timeout, `no reply from ${dest} within ${timeoutMs} ms`, { in_reply_to: msgId }));
    });
    this.pending.set(msgId, { onReply, timeout });
    this.world.transmit({ src: this.id, dest, body: { ...body, msg_id: msgId } });
    return msgId;
  }

  /** @internal the world hands the client what arrives for it. */
  receive(msg: Envelope): void {
    const id = msg.body.in_reply_to;
    if (typeof id !== 'number') return;
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    waiting.timeout.cancel();
    waiting.onReply(msg.body);
  }
}

export class World {
  readonly seed: number;
  readonly members: readonly NodeId[];
  readonly network: NetworkModel;
  readonly stats = new MessageStats();
  readonly diskDelayMs: number;
  private readonly factories: readonly ProtocolFactory[];
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients = new Map<NodeId, SimClient>();
  private readonly queue = new EventQueue<Item>();
  private readonly timers = new Map<TimerId, Item>();
  private readonly hash = new TraceHash();
  private readonly onEvent: ((event: StampedEvent) => void) | undefined;
  private clock = 0;
  private seq = 0;
  private nextTimer = 1;
  private started = false;

  constructor(options: WorldOptions) {
    if (!Number.isSafeInteger(options.seed) || options.seed < 0) throw new SimConfigError(`seed must be an integer >= 0, got ${options.seed}`);
    if (options.nodes.length === 0) throw new SimConfigError('a simulation needs at least one node');
    this.seed = options.seed;
    this.members = [...options.nodes];
    this.factories = options.protocols;
    this.diskDelayMs = options.diskDelayMs ?? 1;
    this.onEvent = options.onEvent;
    const index = new Map<NodeId, number>();
    this.members.forEach((id, i) => {
      if (index.has(id)) throw new SimConfigError(`node id '${id}' appears twice`);
      index.set(id, i);
      this.nodes.set(id, new SimNode(id, this, options.seed));
    });
    const network: NetworkConfig = { ...DEFAULT_NETWORK };
    for (const [key, value] of Object.entries(options.network ?? {})) if (value !== undefined) Object.assign(network, { [key]: value });
    this.network = new NetworkModel(network, index, Rng.stream(options.seed, 'network'));
  }

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.clock;
  }

  /** Starts every node, in roster order, at the current virtual time. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const node of this.nodes.values()) this.boot(node);
  }

  /** The client with this id (created on first use). Client ids must not be member ids. */
  client(id: NodeId): SimClient {
    if (this.nodes.has(id)) throw new SimConfigError(`'${id}' is a node id, not a client id`);
    let c = this.clients.get(id);
    if (!c) {
      c = new SimClient(id, this);
      this.clients.set(id, c);
    }
    return c;
  }

  isUp(id: NodeId): boolean {
    return this.node(id).up;
  }

  /** The ids of the nodes that are running now, in roster order. */
  liveNodes(): NodeId[] {
    return this.members.filter((id) => this.node(id).up);
  }

  /** The protocol object called `name` on node `id`, while the node runs. */
  protocol<P extends Protocol>(id: NodeId, name: string): P | undefined {
    return this.node(id).runtime?.protocol<P>(name);
  }

  /** The node stops dead: no clean shutdown, no goodbye. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    node.up = false;
    node.incarnation++;
    node.runtime = null;
    node.storage.crash();
    this.recordWorld(node, 'sim.crashed');
  }

  /** The node comes back: fresh protocol objects, the storage it had made durable. */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    this.recordWorld(node, 'sim.restarted');
    this.boot(node);
  }

  /** Runs `fn` at virtual time `time` (or now, if that has passed). */
  at(time: number, fn: () => void): Cancellable {
    return this.after(time - this.clock, fn);
  }

  /** Runs `fn` after `delayMs` virtual milliseconds. */
  after(delayMs: number, fn: () => void): Cancellable {
    const item = this.schedule(Math.max(0, delayMs), Kind.Action, null, 0, null, fn, 0);
    return { cancel: () => (item.cancelled = true) };
  }

  /**
   * Processes the agenda up to virtual time `until` (inclusive). If `stop`
   * is given it is asked after every step and ends the run early when it
   * says true; keep it O(1), it runs millions of times.
   * Returns true if stopped early by `stop`.
   */
  runUntil(until: number, stop?: () => boolean): boolean {
    this.start();
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.time > until) break;
      this.queue.pop();
      this.clock = next.time;
      this.process(next);
      if (stop?.()) return true;
    }
    if (Number.isFinite(until) && until > this.clock) this.clock = until;
    return false;
  }

  /** Runs for `ms` more virtual milliseconds. */
  runFor(ms: number, stop?: () => boolean): boolean {
    return this.runUntil(this.clock + ms, stop);
  }

  /** The hash of everything delivered and emitted so far, 16 hex digits. */
  traceHash(): string {
    return this.hash.digest();
  }

  // ---- used by SimNode and SimClient ----

  /** @internal */
  transmit(msg: Envelope): void {
    const stats = this.stats;
    const typeStats = stats.type(msg.body.type);
    stats.sent++;
    typeStats.sent++;
    const srcNode = this.nodes.get(msg.src);
    const destNode = this.nodes.get(msg.dest);
    const betweenServers = srcNode !== undefined && destNode !== undefined;
    const counts = betweenServers ? stats.servers : stats.clients;
    counts.sent++;
    if (destNode === undefined && !this.clients.has(msg.dest)) {
      stats.dropped.unknown++;
      typeStats.dropped++;
      counts.dropped++;
      return;
    }
    if (betweenServers) {
      const verdict = this.network.judge(msg.src, msg.dest);
      if (verdict !== 'deliver') {
        stats.dropped[verdict]++;
        typeStats.dropped++;
        counts.dropped++;
        return;
      }
    }
    const incarnation = destNode?.incarnation ?? 0;
    this.schedule(this.network.latency(), Kind.Deliver, destNode ?? null, incarnation, msg, null, 0);
    if (betweenServers && this.network.duplicates()) {
      stats.duplicated++;
      this.schedule(this.network.latency(), Kind.Deliver, destNode, incarnation, msg, null, 0);
    }
  }

  /** @internal */
  setNodeTimer(node: SimNode, delayMs: number, fn: () => void): TimerId {
    const id = this.nextTimer++;
    const item = this.schedule(Math.max(0, delayMs), Kind.Timer, node, node.incarnation, null, fn, id);
    this.timers.set(id, item);
    return id;
  }

  /** @internal */
  clearNodeTimer(timer: TimerId): void {
    const item = this.timers.get(timer);
    if (item) {
      item.cancelled = true;
      this.timers.delete(timer);
    }
  }

  /** @internal */
  scheduleNodeTask(node: SimNode, delayMs: number, fn: () => void): void {
    this.schedule(delayMs, Kind.NodeTask, node, node.incarnation, null, fn, 0);
  }

  /** @internal stamps, hashes and publishes one event. */
  record(node: SimNode, event: ProtocolEvent): void {
    const stamped: StampedEvent = { ...event, node: node.id, time: this.clock, seq: ++node.eventSeq };
    this.hash.update(JSON.stringify(stamped));
    this.onEvent?.(stamped);
  }

  // ---- internals ----

  /** The world's own events about a node (`sim.crashed`, `sim.restarted`), in that node's stream. */
  private recordWorld(node: SimNode, type: string): void {
    this.record(node, { type });
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) throw new SimConfigError(`no node '${id}' in this simulation`);
    return node;
  }

  private boot(node: SimNode): void {
    node.up = true;
    node.runtime = new NodeRuntime(node, this.factories);
    node.runtime.start();
  }

  private schedule(delay: number, kind: Kind, node: SimNode | null, incarnation: number, msg: Envelope | null, fn: (() => void) | null, timer: number): Item {
    const item = new Item(this.clock + delay, ++this.seq, kind, node, incarnation, msg, fn, timer);
    this.queue.push(item);
    return item;
  }

  private process(item: Item): void {
    if (item.cancelled) return;
    switch (item.kind) {
      case Kind.Deliver:
        this.deliver(item);
        return;
      case Kind.Timer:
        this.timers.delete(item.timer);
        if (this.alive(item)) (item.fn as () => void)();
        return;
      case Kind.NodeTask:
        if (this.alive(item)) (item.fn as () => void)();
        return;
      case Kind.Action:
        (item.fn as () => void)();
        return;
    }
  }

  /** Whether the node an item belongs to is still the incarnation that scheduled it. */
  private alive(item: Item): boolean {
    const node = item.node as SimNode;
    return node.up && node.incarnation === item.incarnation;
  }

  private deliver(item: Item): void {
    const msg = item.msg as Envelope;
    const stats = this.stats;
    const node = item.node;
    const counts = node !== null && this.nodes.has(msg.src) ? stats.servers : stats.clients;
    if (node !== null && !this.alive(item)) {
      stats.dropped.crash++;
      stats.type(msg.body.type).dropped++;
      counts.dropped++;
      return;
    }
    stats.delivered++;
    stats.type(msg.body.type).delivered++;
    counts.delivered++;
    this.hash.update(`${this.clock}|${msg.src}|${msg.dest}|${JSON.stringify(msg.body)}`);
    if (node !== null) (node.runtime as NodeRuntime).deliver(msg);
    else this.clients.get(msg.dest)?.receive(msg);
  }
}
