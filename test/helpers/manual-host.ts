/**
 * A host for unit-testing protocols by hand: a fake clock you advance, a
 * seeded random source, and a list of everything the node transmitted and
 * emitted. No sockets, no sleeps.
 */
import type { Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { HostEnv, ProtocolEvent, ProtocolFactory, TimerId } from '../../src/protocols/env.js';
import { MemoryStorage, NodeRuntime } from '../../src/protocols/runtime.js';

interface Timer {
  id: TimerId;
  at: number;
  fn: () => void;
}

export class ManualHost implements HostEnv {
  readonly id: NodeId;
  readonly sent: Envelope[] = [];
  readonly events: ProtocolEvent[] = [];
  readonly storage: MemoryStorage;
  runtime!: NodeRuntime;
  private clock = 0;
  private timers: Timer[] = [];
  private nextTimer = 1;
  private seed: number;

  constructor(id: NodeId, private readonly cluster: NodeId[], seed = 1) {
    this.id = id;
    this.seed = seed;
    this.storage = new MemoryStorage((fn) => this.setTimer(0, fn));
  }

  static start(id: NodeId, cluster: NodeId[], factories: ProtocolFactory[]): ManualHost {
    const host = new ManualHost(id, cluster);
    host.runtime = new NodeRuntime(host, factories);
    host.runtime.start();
    return host;
  }

  members(): readonly NodeId[] {
    return this.cluster;
  }
  now(): number {
    return this.clock;
  }
  random(): number {
    // mulberry32: small, seeded, good enough for tests
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  transmit(msg: Envelope): void {
    this.sent.push(msg);
  }
  setTimer(delayMs: number, fn: () => void): TimerId {
    const id = this.nextTimer++;
    this.timers.push({ id, at: this.clock + delayMs, fn });
    return id;
  }
  clearTimer(timer: TimerId): void {
    this.timers = this.timers.filter((t) => t.id !== timer);
  }
  emit(event: ProtocolEvent): void {
    this.events.push(event);
  }

  /** Delivers an envelope to this node. */
  deliver(src: NodeId, body: Envelope['body']): void {
    this.runtime.deliver({ src, dest: this.id, body });
  }

  /** Moves the clock forward, firing due timers in time order. */
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.clock = due.at;
      due.fn();
    }
    this.clock = until;
  }

  /** Removes and returns what was transmitted since the last call. */
  takeSent(): Envelope[] {
    return this.sent.splice(0);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}
