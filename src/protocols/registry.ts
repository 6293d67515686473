/**
 * Membership through a registry: the simplest failure detector there is.
 *
 * One node is the registry (service discovery, workshop module 11). Every
 * other node registers with it once and then sends a heartbeat every few
 * seconds. The registry remembers when it last heard from each node; a node
 * silent for longer than the expiry timeout is declared dead. A dead node
 * that wakes up finds its heartbeats refused ("not registered") and
 * registers again — which is also how nodes recover when the registry itself
 * restarts with an empty table.
 *
 * The registry is a single point of failure and its verdicts are only as good
 * as its timeout: too short and a slow node is declared dead while it works,
 * too long and a crash goes unnoticed. The SWIM detector (swim.ts) removes
 * the central node; this one is here because it is easy to see whole.
 *
 * Every node runs this protocol; the one named `registry` in the config (by
 * default the first node of the roster) plays the registry, the others play
 * the heartbeating member. Requests to a node that is not the registry get a
 * definite error naming the registry.
 */

import { ErrorCode, compareIds, errorBody, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory } from './env.js';

export interface RegistryConfig {
  /** The node that acts as registry; undefined means the first node of the roster. */
  registry: NodeId | undefined;
  /** How often a member sends a heartbeat (the tutorial's 3 s). */
  heartbeatIntervalMs: number;
  /** A node silent for longer than this is declared dead (the tutorial's 10 s). */
  expiryMs: number;
  /** How often the registry looks for expired nodes. */
  sweepIntervalMs: number;
  /** How long a member waits for the registry to answer a register or heartbeat. */
  requestTimeoutMs: number;
  /** The URL this node advertises when it registers (a live host passes its base URL). */
  url: string | undefined;
}

export const DEFAULT_REGISTRY_CONFIG: RegistryConfig = {
  // The first roster node, so a cluster needs no extra setting.
  registry: undefined,
  // Tutorial §6: "Send a heartbeat every 3 seconds".
  heartbeatIntervalMs: 3000,
  // Tutorial §6: "if time.time() - last_seen > 10" — three missed heartbeats and a bit.
  expiryMs: 10000,
  // Expiry is noticed at most this late.
  sweepIntervalMs: 500,
  // Well under the heartbeat interval, so requests never pile up.
  requestTimeoutMs: 1000,
  // No URL unless the host provides one.
  url: undefined,
};

export type RegistryMemberStatus = 'alive' | 'dead';

/** One row of the registry's table, as `registry.nodes` returns it. */
export interface RegistryEntry {
  node_id: NodeId;
  url: string | null;
  last_seen_ms_ago: number;
  status: RegistryMemberStatus;
}

export type RegistryStatus =
  | { role: 'registry'; registry: NodeId; nodes: RegistryEntry[] }
  | { role: 'member'; registry: NodeId; registered: boolean; last_ack_ms_ago: number | null };

interface Row {
  url: string | null;
  lastSeen: number;
  status: RegistryMemberStatus;
}

export const REGISTRY_MESSAGES = ['registry.register', 'registry.heartbeat', 'registry.nodes', 'registry.status'] as const;

export class Registry implements Protocol {
  readonly name = 'registry';
  readonly handles = REGISTRY_MESSAGES;

  /** The registry's table (used only on the registry node). */
  private readonly table = new Map<NodeId, Row>();
  /** Member side: has the registry acknowledged our registration? */
  private registered = false;
  private lastAck: number | null = null;
  private registering = false;

  constructor(
    private readonly env: Env,
    private readonly config: RegistryConfig,
  ) {}

  /** The id of the node acting as registry. */
  get registryId(): NodeId {
    return this.config.registry ?? this.env.members()[0] ?? this.env.id;
  }

  private get isRegistry(): boolean {
    return this.registryId === this.env.id;
  }

  start(): void {
    if (this.isRegistry) {
      // The registry is a member of the cluster too, and always alive to itself.
      this.admit(this.env.id, this.config.url ?? null);
      this.env.setTimer(this.config.sweepIntervalMs, () => this.sweep());
    } else {
      this.register();
      this.env.setTimer(this.config.heartbeatIntervalMs, () => this.beat());
    }
  }

  status(): RegistryStatus {
    if (this.isRegistry) return { role: 'registry', registry: this.env.id, nodes: this.nodes() };
    return {
      role: 'member',
      registry: this.registryId,
      registered: this.registered,
      last_ack_ms_ago: this.lastAck === null ? null : this.env.now() - this.lastAck,
    };
  }

  receive(msg: Envelope): void {
    if (msg.body.type === 'registry.status') {
      this.env.reply(msg, { type: 'registry.status_ok', ...this.status() });
      return;
    }
    if (!this.isRegistry) {
      const text = `node ${this.env.id} is not the registry; ask ${this.registryId}`;
      this.env.reply(msg, errorBody(ErrorCode.NotSupported, text, { registry: this.registryId }));
      return;
    }
    switch (msg.body.type) {
      case 'registry.register':
        this.onRegister(msg);
        return;
      case 'registry.heartbeat':
        this.onHeartbeat(msg);
        return;
      case 'registry.nodes':
        this.env.reply(msg, { type: 'registry.nodes_ok', nodes: this.nodes() });
        return;
    }
  }

  // ---- the registry's side ----

  private onRegister(msg: Envelope): void {
    const nodeId = msg.body.node_id;
    const url = msg.body.url;
    if (typeof nodeId !== 'string' || nodeId === '') {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, 'register needs a non-empty string node_id'));
      return;
    }
    if (url !== undefined && url !== null && typeof url !== 'string') {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, 'url must be a string'));
      return;
    }
    this.admit(nodeId, url ?? null);
    this.env.reply(msg, { type: 'registry.register_ok', node_id: nodeId });
  }

  private admit(nodeId: NodeId, url: string | null): void {
    const row = this.table.get(nodeId);
    const wasAlive = row?.status === 'alive';
    this.table.set(nodeId, { url: url ?? row?.url ?? null, lastSeen: this.env.now(), status: 'alive' });
    if (!wasAlive) this.env.emit({ type: 'member.joined', member: nodeId, url, rejoined: row !== undefined });
  }

  private onHeartbeat(msg: Envelope): void {
    const nodeId = msg.body.node_id;
    if (typeof nodeId !== 'string' || nodeId === '') {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, 'heartbeat needs a non-empty string node_id'));
      return;
    }
    const row = this.table.get(nodeId);
    if (!row || row.status !== 'alive') {
      // As in the handout: a heartbeat only keeps a live registration alive.
      // An unknown or expired node must register again.
      const text = row ? `node ${nodeId} expired; register again` : `node ${nodeId} is not registered`;
      this.env.reply(msg, errorBody(ErrorCode.KeyDoesNotExist, text));
      return;
    }
    row.lastSeen = this.env.now();
    this.env.reply(msg, { type: 'registry.heartbeat_ok', node_id: nodeId });
  }

  private sweep(): void {
    this.env.setTimer(this.config.sweepIntervalMs, () => this.sweep());
    const now = this.env.now();
    const self = this.table.get(this.env.id);
    if (self) self.lastSeen = now;
    for (const [nodeId, row] of this.table) {
      if (row.status === 'alive' && now - row.lastSeen > this.config.expiryMs) {
        row.status = 'dead';
        this.env.emit({ type: 'member.dead', member: nodeId, last_seen_ms_ago: now - row.lastSeen });
      }
    }
  }

  private nodes(): RegistryEntry[] {
    const now = this.env.now();
    return [...this.table.entries()]
      .sort(([a], [b]) => compareIds(a, b))
      .map(([node_id, row]) => ({ node_id, url: row.url, last_seen_ms_ago: now - row.lastSeen, status: row.status }));
  }

  // ---- the member's side ----

  private register(): void {
    if (this.registering) return;
    this.registering = true;
    const body = { type: 'registry.register', node_id: this.env.id, url: this.config.url ?? null };
    this.env.rpc(this.registryId, body, this.config.requestTimeoutMs, (reply) => {
      this.registering = false;
      if (reply.type !== 'registry.register_ok') return; // the next beat tries again
      this.registered = true;
      this.lastAck = this.env.now();
      this.env.emit({ type: 'registry.registered', registry: this.registryId });
    });
  }

  private beat(): void {
    this.env.setTimer(this.config.heartbeatIntervalMs, () => this.beat());
    if (!this.registered) {
      this.register();
      return;
    }
    const body = { type: 'registry.heartbeat', node_id: this.env.id };
    this.env.rpc(this.registryId, body, this.config.requestTimeoutMs, (reply) => {
      if (reply.type === 'registry.heartbeat_ok') {
        this.lastAck = this.env.now();
      } else if (reply.type === 'error' && reply.code === ErrorCode.KeyDoesNotExist) {
        // The registry forgot us (we expired, or it restarted): register again now.
        this.registered = false;
        this.register();
      }
      // A timeout says nothing: keep beating; the registry may be back soon.
    });
  }
}

export function registry(config: Partial<RegistryConfig> = {}): ProtocolFactory {
  const full: RegistryConfig = { ...DEFAULT_REGISTRY_CONFIG, ...config };
  return (env) => new Registry(env, full);
}
