/**
 * One node's runtime: the protocols it runs, and the plumbing between them
 * and the host.
 *
 * A node runs several protocols at once (ring, election, gossip, kv, ...).
 * The runtime owns what they would otherwise each rewrite:
 *
 * - routing: an incoming envelope goes to the protocol that declared its
 *   `body.type`; a reply (`in_reply_to`) goes to the callback that is waiting
 *   for it. A request of a type nobody handles is answered with error 10
 *   (not supported), so a caller never waits for an answer that cannot come.
 * - request/response: `env.rpc` numbers the request, remembers the callback
 *   and arms a timeout that answers with error 0 (indefinite) if the reply
 *   does not come in time. Exactly one of the two reaches the callback.
 * - local delivery: an envelope a node addresses to itself (a coordinator
 *   that is also a replica, a one-node ring) never touches the network. It is
 *   delivered on a later turn (a zero-delay timer), never inside the send
 *   that caused it, and on every host the same way, so a node is never
 *   partitioned from itself, never loses a message to itself, and the
 *   simulator counts only real network traffic. Bodies are not copied:
 *   protocols treat a received body as read-only, as they must for any.
 * - storage slices: each protocol sees only keys under its own name.
 * - timers: a clean stop cancels every timer a protocol left armed.
 *
 * The runtime is as pure as the protocols: it only calls the HostEnv.
 */

import { ErrorCode, errorBody, type Body, type Envelope, type NodeId } from './envelope.js';
import type { Env, HostEnv, Protocol, ProtocolFactory, ReplyHandler, Storage, TimerId } from './env.js';
import { SortedMap } from './sorted-map.js';

interface PendingRpc {
  dest: NodeId;
  onReply: ReplyHandler;
  timer: TimerId;
}

export class NodeRuntime {
  readonly id: NodeId;
  private readonly host: HostEnv;
  private readonly protocols: Protocol[] = [];
  private readonly byName = new Map<string, Protocol>();
  private readonly routes = new Map<string, Protocol>();
  private readonly pending = new Map<number, PendingRpc>();
  private readonly timers = new Set<TimerId>();
  private nextMsgId = 1;
  private running = false;

  constructor(host: HostEnv, factories: readonly ProtocolFactory[]) {
    this.host = host;
    this.id = host.id;
    for (const factory of factories) {
      const { env, setStorage } = this.envFor();
      const protocol = factory(env);
      setStorage(new PrefixedStorage(host.storage, `${protocol.name}/`));
      if (this.byName.has(protocol.name)) throw new Error(`two protocols named '${protocol.name}'`);
      for (const type of protocol.handles) {
        const owner = this.routes.get(type);
        if (owner) throw new Error(`message type '${type}' claimed by both '${owner.name}' and '${protocol.name}'`);
        this.routes.set(type, protocol);
      }
      this.byName.set(protocol.name, protocol);
      this.protocols.push(protocol);
    }
  }

  /** The protocol registered under `name`, for hosts that expose its state. */
  protocol<P extends Protocol>(name: string): P | undefined {
    return this.byName.get(name) as P | undefined;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const p of this.protocols) p.start?.();
  }

  /** Cancels every timer and pending request; the node goes quiet. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const p of this.protocols) p.stop?.();
    for (const t of this.timers) this.host.clearTimer(t);
    this.timers.clear();
    for (const rpc of this.pending.values()) this.host.clearTimer(rpc.timer);
    this.pending.clear();
  }

  /** An envelope arrives from the network (or from a local client adapter). */
  deliver(msg: Envelope): void {
    if (!this.running) return;
    const body = msg.body;
    if (typeof body.in_reply_to === 'number') {
      const waiting = this.pending.get(body.in_reply_to);
      if (waiting && waiting.dest === msg.src) {
        this.pending.delete(body.in_reply_to);
        this.host.clearTimer(waiting.timer);
        this.timers.delete(waiting.timer);
        waiting.onReply(body, msg.src);
        return;
      }
    }
    const protocol = this.routes.get(body.type);
    if (protocol) {
      protocol.receive(msg);
      return;
    }
    if (typeof body.in_reply_to === 'number') return; // a late reply: its caller already timed out
    if (typeof body.msg_id === 'number') {
      this.transmit(msg.src, {
        ...errorBody(ErrorCode.NotSupported, `node ${this.id} does not handle '${body.type}'`),
        in_reply_to: body.msg_id,
      });
    }
  }

  /** A fresh msg_id, unique on this node for its lifetime. */
  private allocateMsgId(): number {
    return this.nextMsgId++;
  }

  private transmit(dest: NodeId, body: Body): void {
    // A stopped (crashed) node says nothing more, even if a callback it
    // registered elsewhere (a storage durability callback) still fires.
    if (!this.running) return;
    const msg: Envelope = { src: this.id, dest, body };
    if (dest === this.id) {
      this.setTimer(0, () => this.deliver(msg));
      return;
    }
    this.host.transmit(msg);
  }

  private setTimer(delayMs: number, fn: () => void): TimerId {
    const timer: TimerId = this.host.setTimer(Math.max(0, delayMs), () => {
      this.timers.delete(timer);
      if (this.running) fn();
    });
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: TimerId): void {
    if (this.timers.delete(timer)) this.host.clearTimer(timer);
  }

  private envFor(): { env: Env; setStorage(s: Storage): void } {
    const host = this.host;
    const runtime = this;
    // Each protocol gets the slice of storage under its own name. The name is
    // known only once the factory has returned, so the slice is attached then;
    // a protocol touches storage in start/receive, never in its constructor.
    let slice: Storage | undefined;
    // peers() is called per message by some protocols; on 10,000 nodes a
    // fresh copy each time is the hot spot. Recompute only when the host
    // hands out a different members array (i.e. membership changed).
    let seenMembers: readonly NodeId[] | undefined;
    let peers: readonly NodeId[] = [];
    const env: Env = {
      id: host.id,
      members: () => host.members(),
      peers: () => {
        const members = host.members();
        if (members !== seenMembers) {
          seenMembers = members;
          peers = members.filter((m) => m !== host.id);
        }
        return peers;
      },
      now: () => host.now(),
      random: () => host.random(),
      send: (dest, body) => runtime.transmit(dest, body),
      rpc: (dest, body, timeoutMs, onReply) => {
        const msgId = runtime.allocateMsgId();
        const timer = runtime.setTimer(timeoutMs, () => {
          if (!runtime.pending.delete(msgId)) return;
          onReply(errorBody(ErrorCode.Timeout, `no reply from ${dest} within ${timeoutMs} ms`, { in_reply_to: msgId }), dest);
        });
        runtime.pending.set(msgId, { dest, onReply, timer });
        runtime.transmit(dest, { ...body, msg_id: msgId });
        return msgId;
      },
      reply: (request, body) => {
        const replyBody: Body = { ...body };
        if (typeof request.body.msg_id === 'number') replyBody.in_reply_to = request.body.msg_id;
        runtime.transmit(request.src, replyBody);
      },
      setTimer: (delayMs, fn) => runtime.setTimer(delayMs, fn),
      clearTimer: (timer) => runtime.clearTimer(timer),
      get storage(): Storage {
        if (!slice) throw new Error('a protocol may use storage only after it is constructed');
        return slice;
      },
      emit: (event) => host.emit(event),
    };
    return { env, setStorage: (s) => (slice = s) };
  }
}

/** A view of a storage restricted to keys under one prefix. */
export class PrefixedStorage implements Storage {
  constructor(
    private readonly inner: Storage,
    private readonly prefix: string,
  ) {}

  get<T = unknown>(key: string): T | undefined {
    return this.inner.get<T>(this.prefix + key);
  }

  put(key: string, value: unknown, onDurable?: () => void): void {
    this.inner.put(this.prefix + key, value, onDurable);
  }

  delete(key: string, onDurable?: () => void): void {
    this.inner.delete(this.prefix + key, onDurable);
  }

  keys(prefix = ''): string[] {
    return this.inner.keys(this.prefix + prefix).map((k) => k.slice(this.prefix.length));
  }

  entries<T = unknown>(prefix = ''): Array<[string, T]> {
    const entries = this.inner.entries<T>(this.prefix + prefix);
    for (const e of entries) e[0] = e[0].slice(this.prefix.length);
    return entries;
  }
}

/**
 * Storage in memory. `defer` schedules the durability callbacks (hosts pass
 * a zero-delay timer so a callback never runs inside the `put` that caused
 * it). Used by tests, by the simulator, and by live nodes run without a
 * data directory.
 */
export class MemoryStorage implements Storage {
  private readonly data = new SortedMap<unknown>();

  constructor(private readonly defer: (fn: () => void) => void = (fn) => fn()) {}

  get<T = unknown>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  put(key: string, value: unknown, onDurable?: () => void): void {
    this.data.set(key, value);
    if (onDurable) this.defer(onDurable);
  }

  delete(key: string, onDurable?: () => void): void {
    this.data.delete(key);
    if (onDurable) this.defer(onDurable);
  }

  keys(prefix = ''): string[] {
    return this.data.keys(prefix);
  }

  entries<T = unknown>(prefix = ''): Array<[string, T]> {
    return this.data.entries(prefix) as Array<[string, T]>;
  }
}
