/**
 * A tiny deterministic in-memory network of NodeRuntimes for multi-node
 * protocol tests: one virtual clock and timer queue shared by every node,
 * seeded latency, a disk that makes writes durable a little later (in order),
 * crash/restart that keeps only durable writes, and partition / drop
 * predicates. Clients are ids that are not members; their requests and the
 * replies are recorded.
 *
 * It is deliberately small; the real simulator (src/sim) is richer.
 */
import type { Body, Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { HostEnv, ProtocolEvent, ProtocolFactory, Storage, StampedEvent, TimerId } from '../../src/protocols/env.js';
import { NodeRuntime } from '../../src/protocols/runtime.js';

interface Timer {
  id: TimerId;
  at: number;
  owner: NodeId | null;
  fn: () => void;
}

export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Storage whose writes become durable after a disk delay, in order; a crash keeps only durable writes. */
export class NetStorage implements Storage {
  private visible = new Map<string, unknown>();
  readonly durable = new Map<string, unknown>();
  constructor(private readonly persist: (apply: () => void) => void) {}
  get<T = unknown>(key: string): T | undefined {
    return this.visible.get(key) as T | undefined;
  }
  put(key: string, value: unknown, onDurable?: () => void): void {
    const copy = structuredClone(value);
    this.visible.set(key, copy);
    this.persist(() => {
      this.durable.set(key, structuredClone(copy));
      onDurable?.();
    });
  }
  delete(key: string, onDurable?: () => void): void {
    this.visible.delete(key);
    this.persist(() => {
      this.durable.delete(key);
      onDurable?.();
    });
  }
  keys(prefix = ''): string[] {
    return [...this.visible.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  crash(): void {
    this.visible = new Map([...this.durable].map(([k, v]) => [k, structuredClone(v)]));
  }
}

class NetNode implements HostEnv {
  runtime!: NodeRuntime;
  readonly storage: NetStorage;
  up = false;
  /** Disk writes are durable in order: the next one is due no earlier than this. */
  diskFree = 0;
  constructor(
    readonly id: NodeId,
    private readonly net: KvNet,
  ) {
    this.storage = new NetStorage((apply) => {
      const at = Math.max(this.net.now(), this.diskFree) + this.net.diskDelayMs;
      this.diskFree = at;
      this.net.schedule(at - this.net.now(), this.id, apply);
    });
  }
  members(): readonly NodeId[] {
    return this.net.members;
  }
  now(): number {
    return this.net.now();
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
    this.net.record(this.id, event);
  }
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

export interface KvNetOptions {
  seed?: number;
  /** Latency is uniform in [min, max] ms. */
  latencyMs?: [number, number];
  diskDelayMs?: number;
}

export class KvNet {
  members: NodeId[];
  readonly nodes = new Map<NodeId, NetNode>();
  readonly events: StampedEvent[] = [];
  readonly diskDelayMs: number;
  /** Return true to drop an envelope between nodes (clients are never cut off). */
  drop: (msg: Envelope) => boolean = () => false;
  private clock = 0;
  private timers: Timer[] = [];
  private nextTimer = 1;
  private seq = new Map<NodeId, number>();
  private readonly rng: () => number;
  private readonly latency: [number, number];
  private calls = new Map<string, ClientCall>();
  private nextClientMsg = 1;

  constructor(
    members: NodeId[],
    private readonly factories: (node: NodeId) => ProtocolFactory[],
    options: KvNetOptions = {},
  ) {
    this.members = [...members];
    this.rng = mulberry32(options.seed ?? 1);
    this.latency = options.latencyMs ?? [1, 5];
    this.diskDelayMs = options.diskDelayMs ?? 1;
    for (const id of members) this.add(id);
  }

  /** Creates and starts a node (not a member until `members` lists it). */
  add(id: NodeId): void {
    const node = new NetNode(id, this);
    this.nodes.set(id, node);
    this.boot(node);
  }

  private boot(node: NetNode): void {
    node.runtime = new NodeRuntime(node, this.factories(node.id));
    node.up = true;
    node.runtime.start();
  }

  node(id: NodeId): NodeRuntime {
    return this.nodes.get(id)!.runtime;
  }

  storage(id: NodeId): NetStorage {
    return this.nodes.get(id)!.storage;
  }

  isUp(id: NodeId): boolean {
    return this.nodes.get(id)!.up;
  }

  now(): number {
    return this.clock;
  }

  random(): number {
    return this.rng();
  }

  /** The node stops at once; writes not yet durable are gone. */
  crash(id: NodeId): void {
    const node = this.nodes.get(id)!;
    if (!node.up) return;
    node.up = false;
    node.runtime.stop();
    this.timers = this.timers.filter((t) => t.owner !== id);
    node.diskFree = 0;
    node.storage.crash();
  }

  /** A fresh runtime over the node's surviving storage. */
  restart(id: NodeId): void {
    const node = this.nodes.get(id)!;
    if (node.up) return;
    this.boot(node);
  }

  /** Cuts the nodes into groups that cannot talk to each other (nodes in no group are cut off from all). */
  partition(...groups: NodeId[][]): void {
    const side = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((n) => side.set(n, i)));
    this.drop = (msg) => side.get(msg.src) !== side.get(msg.dest) || side.get(msg.src) === undefined;
  }

  heal(): void {
    this.drop = () => false;
  }

  transmit(msg: Envelope): void {
    const isNode = (id: NodeId) => this.nodes.has(id);
    if (isNode(msg.src) && isNode(msg.dest) && msg.src !== msg.dest && this.drop(msg)) return;
    const [lo, hi] = this.latency;
    const delay = lo + Math.floor(this.rng() * (hi - lo + 1));
    this.schedule(delay, null, () => this.arrive(msg));
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
      call.repliedAt = this.clock;
      call.onReply?.(msg.body);
    }
  }

  /** A client sends a request to a node; the returned call gets its reply when it arrives. */
  request(node: NodeId, body: Omit<Body, 'msg_id'>, client = 'c1', onReply?: (reply: Body) => void): ClientCall {
    const msgId = this.nextClientMsg++;
    const call: ClientCall = { node, body: { ...body, msg_id: msgId } as Body, sentAt: this.clock, ...(onReply ? { onReply } : {}) };
    this.calls.set(`${client}:${msgId}`, call);
    this.transmit({ src: client, dest: node, body: call.body });
    return call;
  }

  /** Sends a request and runs the world until it is answered (or `limitMs` pass). */
  ask(node: NodeId, body: Omit<Body, 'msg_id'>, limitMs = 5000): Body {
    const call = this.request(node, body);
    this.runUntil(() => call.reply !== undefined, limitMs);
    if (!call.reply) throw new Error(`no reply to ${JSON.stringify(body)} from ${node} within ${limitMs} ms`);
    return call.reply;
  }

  schedule(delayMs: number, owner: NodeId | null, fn: () => void): TimerId {
    const id = this.nextTimer++;
    this.timers.push({ id, at: this.clock + Math.max(0, delayMs), owner, fn });
    return id;
  }

  cancel(timer: TimerId): void {
    const at = this.timers.findIndex((t) => t.id === timer);
    if (at >= 0) this.timers.splice(at, 1);
  }

  record(node: NodeId, event: ProtocolEvent): void {
    const seq = (this.seq.get(node) ?? 0) + 1;
    this.seq.set(node, seq);
    this.events.push({ ...event, node, time: this.clock, seq });
  }

  eventsOf(type: string): StampedEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Runs the next due timer; false when none is due by `until`. */
  private step(until: number): boolean {
    let best: Timer | undefined;
    for (const t of this.timers) if (t.at <= until && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
    if (!best) return false;
    this.timers.splice(this.timers.indexOf(best), 1);
    this.clock = best.at;
    best.fn();
    return true;
  }

  /** Advances the virtual clock by `ms`, running everything due. */
  run(ms: number): void {
    const until = this.clock + ms;
    while (this.step(until));
    this.clock = until;
  }

  /** Runs until `done()` holds or `limitMs` pass; returns whether it held. */
  runUntil(done: () => boolean, limitMs: number): boolean {
    const until = this.clock + limitMs;
    while (!done()) if (!this.step(until)) break;
    if (done()) return true;
    this.clock = until;
    return false;
  }
}
