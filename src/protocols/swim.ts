/**
 * SWIM: failure detection without a central registry (Das, Gupta and
 * Motivala, 2002), in the shape hashicorp/memberlist made popular.
 *
 * Every protocol period each node pings one member, taking them in turn
 * from a shuffled list so that every member is probed within two rounds of
 * the list. If no ack comes within the probe timeout, the node asks k other
 * members to ping the target on its behalf (indirect probes): a broken link
 * between two nodes should not get a healthy node declared dead. If neither
 * a direct nor an indirect ack arrives, the target becomes *suspect*.
 *
 * Suspicion is not a verdict yet. Each member carries an *incarnation*
 * number that only the member itself increases. A suspect that hears it is
 * suspected refutes the rumour by announcing itself alive with a higher
 * incarnation; only if the suspicion survives the suspicion timeout is the
 * member declared *dead*. That timeout starts long and shrinks as other
 * members independently confirm the suspicion (swim-suspicion.ts). Which of two reports about a member wins is
 * decided by one rule: the higher incarnation wins, and at equal
 * incarnation the worse state wins (alive < suspect < dead).
 *
 * News travels for free: every ping and ack carries a few recent membership
 * updates ("piggybacking"), each retransmitted a bounded number of times
 * (λ·log N), so a change reaches everyone in O(log N) periods like gossip
 * does. A node joins by exchanging its full member list with any known
 * member (a push-pull sync), so it needs only one seed address, not a
 * roster; the same sync, repeated now and then with a random member (dead
 * ones included), repairs anything gossip missed and reunites the two sides
 * of a healed partition.
 */

import { compareIds, type Body, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory } from './env.js';
import { Suspicion } from './swim-suspicion.js';

export type SwimState = 'alive' | 'suspect' | 'dead';

export interface SwimConfig {
  /** One protocol period: every period each node probes one member (ms). */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others to probe (ms). */
  probeTimeoutMs: number;
  /** How many members are asked to probe indirectly (the paper's k). */
  indirectChecks: number;
  /** How long to wait for an indirect ack before suspecting the target (ms). */
  indirectTimeoutMs: number;
  /** Shortest suspicion timeout = suspicionMult × max(1, log10 N) × probeIntervalMs. */
  suspicionMult: number;
  /** Longest suspicion timeout (no confirmations yet) = suspicionMaxMult × the shortest. */
  suspicionMaxMult: number;
  /** Independent confirmations that bring the timeout down to the shortest (0: fixed timeout). */
  suspicionConfirmations: number;
  /** Each update is piggybacked at most retransmitMult × ceil(log10(N + 1)) times (the λ of λ·log N). */
  retransmitMult: number;
  /** At most this many updates ride on one message. */
  maxPiggyback: number;
  /** How often to exchange full member lists with one random member (ms). */
  syncIntervalMs: number;
  /** Members to join through; undefined means every other roster node. */
  seeds: NodeId[] | undefined;
}

/**
 * Tuned for a loopback or quiet LAN cluster of a handful of nodes, where a
 * round trip takes a few milliseconds. Detection arithmetic for 5 nodes:
 * the first live prober reaches the dead node within about one period
 * (4 probers, each with the dead node somewhere in a 4-entry list), then
 * 100 ms direct + 200 ms indirect timeout → suspect. The suspicion timeout
 * runs from 3 × 1000 ms down to 5 × max(1, log10 5) × 200 ms = 1000 ms once
 * 2 other members have confirmed it; the 3 other live members each probe
 * the dead node within one pass of their 4-entry list (0.8 s) and gossip
 * their confirmation, so the first verdict comes about 1.0–1.5 s after the
 * first suspicion and rides on the next pings and acks to the rest (1–2
 * periods; they also run their own timers). Typically 0.2 + 0.3 + 1.2 + 0.3
 * ≈ 2 s, under the 3 s target; never more than 0.3 + 3.0 s after the first
 * failed probe even if no confirmation arrives.
 */
export const DEFAULT_SWIM_CONFIG: SwimConfig = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 3,
  indirectTimeoutMs: 200,
  suspicionMult: 5,
  suspicionMaxMult: 3,
  suspicionConfirmations: 2,
  retransmitMult: 4,
  maxPiggyback: 8,
  syncIntervalMs: 5000,
  seeds: undefined,
};

/**
 * Patient values for a real LAN of modest machines (memberlist's LAN
 * profile): 1 s periods, 500 ms probe timeout, suspicion from 6 × down to
 * 4 × max(1, log10 N) s. A crashed node is declared dead after roughly 6–10 s.
 */
export const LAN_SWIM_CONFIG: SwimConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  indirectTimeoutMs: 1000,
  suspicionMult: 4,
  suspicionMaxMult: 6,
  suspicionConfirmations: 2,
  retransmitMult: 4,
  maxPiggyback: 8,
  syncIntervalMs: 30000,
  seeds: undefined,
};

/** One membership fact, as it travels on the wire. */
export interface SwimUpdate {
  node: NodeId;
  state: SwimState;
  incarnation: number;
  /** For a suspicion: the member that raised it (so confirmations can be counted). */
  from?: NodeId;
}

export interface SwimMemberView {
  node_id: NodeId;
  state: SwimState;
  incarnation: number;
  /** How long the member has been in its current state, as seen here. */
  since_ms_ago: number;
}

export interface SwimStatus {
  self: NodeId;
  incarnation: number;
  /** Every member this node knows, itself included, in id order. */
  members: SwimMemberView[];
}

interface Member {
  state: SwimState;
  incarnation: number;
  since: number;
}

const RANK: Record<SwimState, number> = { alive: 0, suspect: 1, dead: 2 };

/** Does report `a` override what we hold (`b`)? Higher incarnation, or same and worse state. */
export function overrides(a: { state: SwimState; incarnation: number }, b: { state: SwimState; incarnation: number }): boolean {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation;
  return RANK[a.state] > RANK[b.state];
}

export const SWIM_MESSAGES = ['swim.ping', 'swim.ping_req', 'swim.sync', 'swim.status'] as const;

export class Swim implements Protocol {
  readonly name = 'swim';
  readonly handles = SWIM_MESSAGES;

  private incarnation = 0;
  private readonly members = new Map<NodeId, Member>();
  private readonly suspicions = new Map<NodeId, Suspicion>();
  /** Updates waiting to be piggybacked, with how often each has been sent. */
  private readonly outbox = new Map<NodeId, { update: SwimUpdate; sent: number }>();
  private probeOrder: NodeId[] = [];
  private probeNext = 0;
  private joined = false;
  private joining = false;
  private seedTurn = 0;

  constructor(
    private readonly env: Env,
    private readonly config: SwimConfig,
  ) {}

  start(): void {
    // A restarted node comes back with a higher incarnation than it ever
    // used, so its "alive" overrides any verdict reached while it was away.
    const stored = this.env.storage.get<number>('incarnation');
    this.incarnation = stored === undefined ? 0 : stored + 1;
    this.env.storage.put('incarnation', this.incarnation);
    for (const seed of this.seeds()) this.members.set(seed, { state: 'alive', incarnation: 0, since: this.env.now() });
    this.enqueue({ node: this.env.id, state: 'alive', incarnation: this.incarnation });
    this.join();
    this.env.setTimer(this.config.probeIntervalMs, () => this.tick());
    this.env.setTimer(this.config.syncIntervalMs, () => this.periodicSync());
  }

  status(): SwimStatus {
    const now = this.env.now();
    const members: SwimMemberView[] = [...this.members.entries()].map(([node_id, m]) => ({
      node_id,
      state: m.state,
      incarnation: m.incarnation,
      since_ms_ago: now - m.since,
    }));
    members.push({ node_id: this.env.id, state: 'alive', incarnation: this.incarnation, since_ms_ago: 0 });
    members.sort((a, b) => compareIds(a.node_id, b.node_id));
    return { self: this.env.id, incarnation: this.incarnation, members };
  }

  receive(msg: Envelope): void {
    const body = msg.body;
    if (body.type === 'swim.status') {
      this.env.reply(msg, { type: 'swim.status_ok', ...this.status() });
      return;
    }
    this.learnFrom(msg.src, body);
    switch (body.type) {
      case 'swim.ping':
        this.env.reply(msg, this.stamp({ type: 'swim.ping_ok' }, msg.src));
        return;
      case 'swim.ping_req':
        this.onPingReq(msg);
        return;
      case 'swim.sync':
        // Merge first (which may make us refute), then answer with the merged view.
        this.env.reply(msg, { type: 'swim.sync_ok', incarnation: this.incarnation, members: this.allRecords() });
        return;
    }
  }

  // ---- probing ----

  private tick(): void {
    this.env.setTimer(this.config.probeIntervalMs, () => this.tick());
    if (!this.joined) this.join();
    const target = this.nextTarget();
    if (target !== undefined) this.probe(target);
  }

  /** Round-robin over a shuffled list of the members that are not dead. */
  private nextTarget(): NodeId | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeNext < this.probeOrder.length) {
        const candidate = this.probeOrder[this.probeNext++]!;
        const m = this.members.get(candidate);
        if (m && m.state !== 'dead') return candidate;
      }
      this.probeOrder = this.shuffle(this.liveMembers());
      this.probeNext = 0;
    }
    return undefined;
  }

  private probe(target: NodeId): void {
    this.env.rpc(target, this.stamp({ type: 'swim.ping' }, target), this.config.probeTimeoutMs, (reply) => {
      if (reply.type === 'swim.ping_ok') {
        this.learnFrom(target, reply);
        return;
      }
      this.probeIndirectly(target);
    });
  }

  private probeIndirectly(target: NodeId): void {
    const helpers = this.shuffle(this.liveMembers().filter((m) => m !== target && this.members.get(m)?.state === 'alive'))
      .slice(0, this.config.indirectChecks);
    if (helpers.length === 0) {
      this.suspect(target);
      return;
    }
    let pending = helpers.length;
    let acked = false;
    for (const helper of helpers) {
      const body = this.stamp({ type: 'swim.ping_req', target }, helper);
      this.env.rpc(helper, body, this.config.indirectTimeoutMs, (reply) => {
        if (reply.type === 'swim.ping_req_ok') {
          this.learnFrom(helper, reply);
          acked = true;
        }
        if (--pending === 0 && !acked) this.suspect(target);
      });
    }
  }

  /** Pings `target` for a member that could not reach it, and relays the ack. */
  private onPingReq(msg: Envelope): void {
    const target = msg.body.target;
    if (typeof target !== 'string' || target === this.env.id) return;
    this.env.rpc(target, this.stamp({ type: 'swim.ping' }, target), this.config.probeTimeoutMs, (reply) => {
      if (reply.type !== 'swim.ping_ok') return; // silence: the asker times out and suspects
      this.learnFrom(target, reply);
      this.env.reply(msg, this.stamp({ type: 'swim.ping_req_ok', target }, msg.src));
    });
  }

  private suspect(target: NodeId): void {
    const m = this.members.get(target);
    if (!m || m.state === 'dead') return;
    // If it is suspect already, our own failed probe is one more confirmation.
    this.apply({ node: target, state: 'suspect', incarnation: m.incarnation, from: this.env.id }, this.env.id);
  }

  // ---- joining and anti-entropy ----

  private seeds(): NodeId[] {
    return (this.config.seeds ?? this.env.peers()).filter((s) => s !== this.env.id);
  }

  /** Exchanges member lists with the seeds, one at a time, until one answers. */
  private join(): void {
    const seeds = this.seeds();
    if (seeds.length === 0) {
      this.joined = true; // the first node of a new cluster: nothing to join
      return;
    }
    if (this.joining) return;
    this.joining = true;
    const seed = seeds[this.seedTurn++ % seeds.length]!;
    this.sync(seed, (ok) => {
      this.joining = false;
      if (ok && !this.joined) {
        this.joined = true;
        this.env.emit({ type: 'swim.joined', via: seed, members: this.members.size + 1 });
      }
    });
  }

  private periodicSync(): void {
    this.env.setTimer(this.config.syncIntervalMs, () => this.periodicSync());
    const others = [...this.members.keys()];
    if (others.length === 0) return;
    this.sync(others[Math.floor(this.env.random() * others.length)]!, () => {});
  }

  private sync(peer: NodeId, done: (ok: boolean) => void): void {
    const body = { type: 'swim.sync', incarnation: this.incarnation, members: this.allRecords() };
    this.env.rpc(peer, body, this.config.probeTimeoutMs * 2, (reply) => {
      if (reply.type !== 'swim.sync_ok') {
        done(false);
        return;
      }
      this.learnFrom(peer, reply);
      done(true);
    });
  }

  private allRecords(): SwimUpdate[] {
    const records: SwimUpdate[] = [{ node: this.env.id, state: 'alive', incarnation: this.incarnation }];
    for (const [node, m] of this.members) records.push({ node, state: m.state, incarnation: m.incarnation });
    return records;
  }

  // ---- what a message teaches us ----

  /**
   * Every SWIM message says "its sender is alive at this incarnation" and
   * may carry updates (`updates`) or a whole member list (`members`).
   */
  private learnFrom(src: NodeId, body: Body): void {
    if (typeof body.incarnation === 'number') this.apply({ node: src, state: 'alive', incarnation: body.incarnation }, src);
    for (const list of [body.updates, body.members]) {
      if (!Array.isArray(list)) continue;
      for (const u of list) if (isUpdate(u)) this.apply(cleanUpdate(u), src);
    }
  }

  /** The one merge rule; `via` is who told us. */
  private apply(u: SwimUpdate, via: NodeId): void {
    if (u.node === this.env.id) {
      if (u.state !== 'alive' && u.incarnation >= this.incarnation) this.refute(u);
      return;
    }
    const current = this.members.get(u.node);
    if (current && !overrides(u, current)) {
      if (u.state === 'suspect' && current.state === 'suspect' && current.incarnation === u.incarnation) this.confirm(u, via);
      return; // stale or already known
    }
    const now = this.env.now();
    const changed = current?.state !== u.state;
    this.members.set(u.node, { state: u.state, incarnation: u.incarnation, since: changed ? now : current.since });
    this.enqueue(u);
    if (!changed) {
      // A newer incarnation of the same state. A suspicion's timer watches one
      // incarnation: a suspicion of the newer one needs a timer of its own, or
      // the member would stay suspect for ever.
      if (u.state === 'suspect') this.startSuspicion(u.node, u.incarnation, u.from ?? via);
      return;
    }
    if (!current && u.state === 'dead') return; // history about a node we never saw: no verdict of ours
    const event = { member: u.node, incarnation: u.incarnation, via };
    if (u.state === 'alive') {
      this.clearSuspicion(u.node);
      this.env.emit({ type: 'member.alive', ...event });
    } else if (u.state === 'suspect') {
      this.startSuspicion(u.node, u.incarnation, u.from ?? via);
      this.env.emit({ type: 'member.suspected', ...event });
    } else {
      this.clearSuspicion(u.node);
      this.env.emit({ type: 'member.dead', ...event });
    }
  }

  /** Someone says I am suspect or dead: I am not, and say so louder. */
  private refute(u: SwimUpdate): void {
    this.incarnation = u.incarnation + 1;
    this.env.storage.put('incarnation', this.incarnation);
    this.enqueue({ node: this.env.id, state: 'alive', incarnation: this.incarnation });
    this.env.emit({ type: 'member.refuted', rumour: u.state, incarnation: this.incarnation });
  }

  private startSuspicion(node: NodeId, incarnation: number, accuser: NodeId): void {
    this.clearSuspicion(node);
    const n = this.liveMembers().length + 1;
    const minMs = this.config.suspicionMult * Math.max(1, Math.log10(n)) * this.config.probeIntervalMs;
    const maxMs = this.config.suspicionMaxMult * minMs;
    // Confirmations can only come from members other than the suspect and the accuser.
    const k = n - 2 < this.config.suspicionConfirmations ? 0 : this.config.suspicionConfirmations;
    const suspicion = new Suspicion(this.env, accuser, incarnation, k, minMs, maxMs, () => {
      this.suspicions.delete(node);
      const m = this.members.get(node);
      if (m?.state === 'suspect' && m.incarnation === incarnation) {
        this.apply({ node, state: 'dead', incarnation }, this.env.id);
      }
    });
    this.suspicions.set(node, suspicion);
  }

  /** The same suspicion raised by another member: shorten the timer and pass the news on. */
  private confirm(u: SwimUpdate, via: NodeId): void {
    const suspicion = this.suspicions.get(u.node);
    if (suspicion?.incarnation === u.incarnation && suspicion.confirm(u.from ?? via)) this.enqueue(u);
  }

  private clearSuspicion(node: NodeId): void {
    this.suspicions.get(node)?.cancel();
    this.suspicions.delete(node);
  }

  // ---- dissemination ----

  private enqueue(u: SwimUpdate): void {
    this.outbox.set(u.node, { update: u, sent: 0 });
  }

  /** Adds our incarnation and piggybacked updates to an outgoing message for `dest`. */
  private stamp(body: Body, dest: NodeId): Body {
    return { ...body, incarnation: this.incarnation, updates: this.piggyback(dest) };
  }

  private piggyback(dest: NodeId): SwimUpdate[] {
    const out: SwimUpdate[] = [];
    // Tell a suspect (or a "dead" node that can hear us) what we think of it
    // first, so it can refute at once — memberlist's "buddy system".
    const about = this.members.get(dest);
    if (about && about.state !== 'alive') out.push({ node: dest, state: about.state, incarnation: about.incarnation, from: this.env.id });
    const limit = this.config.retransmitMult * Math.ceil(Math.log10(this.members.size + 2));
    const queued = [...this.outbox.values()].sort((a, b) => a.sent - b.sent || compareIds(a.update.node, b.update.node));
    for (const entry of queued) {
      if (out.length >= this.config.maxPiggyback) break;
      if (entry.update.node === dest && out.length > 0 && out[0]!.node === dest) continue;
      out.push(entry.update);
      if (++entry.sent >= limit) this.outbox.delete(entry.update.node);
    }
    return out;
  }

  // ---- helpers ----

  private liveMembers(): NodeId[] {
    return [...this.members.entries()].filter(([, m]) => m.state !== 'dead').map(([id]) => id);
  }

  private shuffle<T>(items: T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.env.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

function isUpdate(u: unknown): u is SwimUpdate {
  if (typeof u !== 'object' || u === null) return false;
  const r = u as Record<string, unknown>;
  return (
    typeof r.node === 'string' &&
    (r.from === undefined || typeof r.from === 'string') &&
    (r.state === 'alive' || r.state === 'suspect' || r.state === 'dead') &&
    typeof r.incarnation === 'number' &&
    Number.isInteger(r.incarnation) &&
    r.incarnation >= 0
  );
}

/** Only the known fields travel on: a peer's extra fields are not ours to gossip. */
function cleanUpdate(u: SwimUpdate): SwimUpdate {
  const clean: SwimUpdate = { node: u.node, state: u.state, incarnation: u.incarnation };
  if (u.from !== undefined) clean.from = u.from;
  return clean;
}

export function swim(config: Partial<SwimConfig> = {}): ProtocolFactory {
  const full: SwimConfig = { ...DEFAULT_SWIM_CONFIG, ...config };
  return (env) => new Swim(env, full);
}
