/**
 * Ring: a token walks the roster in order and comes back to where it started.
 *
 * The nodes stand in a circle in roster order (`env.members()`); after the
 * last node comes the first again. A round starts at an *origin*, which hands
 * the token to the node after it; each node that receives the token records it
 * once (event `token.seen`) and hands it on, until the token is back at the
 * origin. The token carries the list of nodes it has visited (`path`), so the
 * origin learns the whole path — this is also the "structured broadcast" of
 * the handout: a message that visits every node and returns with the visited
 * list.
 *
 * Failure: handing the token on is a request that the next node must
 * acknowledge (`ring.token_ok`) within `hopTimeoutMs`. A node that does not
 * answer is asked again (`hopAttempts` in all); if it stays silent it is
 * *skipped*: the sender reports it (event `ring.skipped`), writes it in the
 * token's `skipped` list and tries the node after it, and so on — the ring
 * closes over the survivors. Only the origin is never skipped: the last
 * holder keeps trying it (members × hopAttempts times, what the round timeout
 * allows), and if it is gone, nobody is left to finish the round, and the
 * last holder reports the round as abandoned.
 *
 * Duplicates: a retransmission can deliver the token twice (the first copy
 * arrived, only its acknowledgement was slow). Every round has a unique id,
 * and a node that has already seen a round acknowledges the copy and drops
 * it — so every node logs a round once and the token never splits in two.
 *
 * Two ways to start a round:
 * - `ring.start {token?}` from a client at node X: X is the origin; it answers
 *   when the token is back (`ring.start_ok` with the path, the skipped nodes
 *   and the round-trip time), or with a timeout error after `roundTimeoutMs`.
 * - `ring.message {from, payload}`: the workshop handout's `ring_send.py`,
 *   which posts `{from, payload}` to the *next* node's `/message`. The node
 *   that receives it acts as the second node of a round whose origin is
 *   `from`: the token goes round and ends back at `from`. When `from` is not a
 *   node of the roster (an IP address, a laptop), the origin is taken to be
 *   the node just before the receiver, so the token still visits every node
 *   once. The answer (`ring.message_ok`) comes at once; the round's end is an
 *   event (`ring.completed`) at the origin.
 */

import { ErrorCode, errorBody, isError, type Body, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory, TimerId } from './env.js';

export interface RingConfig {
  /** How long a node waits for the next node to acknowledge the token (ms). */
  hopTimeoutMs: number;
  /** Transmissions to one silent node before it is skipped (1 = no retransmission). */
  hopAttempts: number;
  /**
   * Overall bound on a round, checked at the origin (ms). 0 = scale with the
   * roster: (members + 1) × hopAttempts × hopTimeoutMs, enough to skip every
   * other node once and still have time to spare.
   */
  roundTimeoutMs: number;
  /** Rounds a node remembers (its log, which is also its duplicate filter). */
  logSize: number;
}

export const DEFAULT_RING_CONFIG: RingConfig = {
  hopTimeoutMs: 500,
  hopAttempts: 2,
  roundTimeoutMs: 0,
  logSize: 1000,
};

/**
 * What a ring is called. The structured broadcast (broadcast-structured.ts)
 * is this same walk under another name, carrying a message instead of a token.
 */
export interface RingNames {
  /** Protocol name, and prefix of its message types and events (`ring.token`, `ring.skipped`, ...). */
  protocol: string;
  /** The event a node emits when it records a round. */
  seenEvent: string;
  /** The field of the client's start request and of its answer that holds the text sent round. */
  textField: string;
  /** Prefix of the text of a round started without one (a counter follows). */
  defaultText: string;
}

export const RING_NAMES: RingNames = { protocol: 'ring', seenEvent: 'token.seen', textField: 'token', defaultText: 'ring-token' };

/** What travels from node to node. */
export interface RingToken extends Body {
  /** `ring.token` (or `<protocol>.token`). */
  type: string;
  /** Unique id of this round (the token text may repeat across rounds). */
  round: string;
  token: string;
  origin: NodeId;
  /** Nodes that have held the token so far, in order, starting at the origin. */
  path: NodeId[];
  /** Nodes found silent and skipped so far. */
  skipped: NodeId[];
}

/** One line of a node's ring log: a round it saw. */
export interface RingLogEntry {
  round: string;
  token: string;
  origin: NodeId;
  /** How many hands the token had passed through before this node (0 at the origin). */
  hop: number;
  /** The node it came from (the client, for the origin). */
  from: NodeId;
  /** When this node saw it (host clock, ms). */
  at: number;
  /** At the origin, once the token is back. */
  returned?: { path: NodeId[]; skipped: NodeId[]; rtt_ms?: number; late?: boolean };
}

/** A round this node started and still waits for (for a client, or for a handout post). */
interface OpenRound {
  client?: Envelope;
  startedAt: number;
  timer: TimerId;
}

export class Ring implements Protocol {
  readonly name: string;
  readonly handles: readonly string[];

  /** Rounds seen, oldest first; bounded by `logSize`. */
  private readonly seen = new Map<string, RingLogEntry>();
  private readonly open = new Map<string, OpenRound>();
  private rounds = 0;

  constructor(
    private readonly env: Env,
    private readonly config: RingConfig,
    private readonly names: RingNames = RING_NAMES,
  ) {
    this.name = names.protocol;
    this.handles = [this.type('token'), this.type('start'), this.type('message')];
  }

  receive(msg: Envelope): void {
    switch (msg.body.type) {
      case this.type('token'):
        return this.onToken(msg as Envelope<RingToken>);
      case this.type('start'):
        return this.onStart(msg);
      case this.type('message'):
        return this.onHandoutMessage(msg);
    }
  }

  /** This node's log, oldest first. */
  log(): RingLogEntry[] {
    return [...this.seen.values()];
  }

  /** A read-only view for HTTP and watchers. */
  status(): { node: NodeId; next: NodeId | undefined; open_rounds: string[]; log: RingLogEntry[] } {
    const next = successors(this.env.members(), this.env.id, this.env.id)[0];
    return { node: this.env.id, next: next === this.env.id ? undefined : next, open_rounds: [...this.open.keys()], log: this.log() };
  }

  // --- starting a round -------------------------------------------------

  private onStart(msg: Envelope): void {
    const field = this.names.textField;
    const given = msg.body[field];
    if (given !== undefined && typeof given !== 'string') {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, `'${field}' must be a string`));
      return;
    }
    const round = this.newRoundId();
    const token = given ?? `${this.names.defaultText}-${this.rounds}`;
    this.openRound(round, token, msg);
    this.record({ round, token, origin: this.env.id, hop: 0, from: msg.src, at: this.env.now() });
    this.forward({ type: this.type('token'), round, token, origin: this.env.id, path: [this.env.id], skipped: [] });
  }

  private onHandoutMessage(msg: Envelope): void {
    const { from, payload } = msg.body;
    if (payload === undefined) {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, `${this.type('message')} needs a 'payload'`));
      return;
    }
    const token = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const members = this.env.members();
    const me = this.env.id;
    const origin = typeof from === 'string' && members.includes(from) ? from : predecessor(members, me);
    const round = this.newRoundId();
    if (origin === me) {
      // Posted to ourselves (or we are alone): we are the origin, with no client waiting.
      this.openRound(round, token);
      this.record({ round, token, origin, hop: 0, from: msg.src, at: this.env.now() });
      this.forward({ type: this.type('token'), round, token, origin, path: [me], skipped: [] });
    } else {
      // We are the second node of a round that `origin` is taken to have started.
      this.record({ round, token, origin, hop: 1, from: msg.src, at: this.env.now() });
      this.forward({ type: this.type('token'), round, token, origin, path: [origin, me], skipped: [] });
    }
    this.env.reply(msg, { type: this.type('message_ok'), [this.names.textField]: token, round, origin });
  }

  // --- receiving the token ----------------------------------------------

  private onToken(msg: Envelope<RingToken>): void {
    const t = msg.body;
    if (typeof t.round !== 'string' || typeof t.token !== 'string' || typeof t.origin !== 'string' || !Array.isArray(t.path) || !Array.isArray(t.skipped)) {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, `${this.type('token')} needs round, token, origin, path and skipped`));
      return;
    }
    if (!this.env.members().includes(t.origin)) {
      // A round must end at its origin; one that is not in our roster never could.
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, `origin ${t.origin} is not in the roster of node ${this.env.id}`));
      return;
    }
    // Acknowledge first, always — even a duplicate — so the sender stops retrying.
    this.env.reply(msg, { type: this.type('token_ok') });
    const path = [...t.path, this.env.id];
    const known = this.seen.get(t.round);

    if (t.origin !== this.env.id) {
      if (known) return; // a duplicate: already logged and passed on
      this.record({ round: t.round, token: t.token, origin: t.origin, hop: t.path.length, from: msg.src, at: this.env.now() });
      this.forward({ ...t, path });
      return;
    }

    // The token is back home.
    if (known?.returned) return; // a duplicate of a round already closed
    const entry = known ?? this.record({ round: t.round, token: t.token, origin: t.origin, hop: t.path.length, from: msg.src, at: this.env.now() });
    this.complete(entry, path, t.skipped);
  }

  // --- passing the token on ---------------------------------------------

  /** Hands the token to the next live node after this one, skipping silent ones. */
  private forward(t: RingToken): void {
    const candidates = successors(this.env.members(), this.env.id, t.origin);
    this.tryNext(t, candidates, 1);
  }

  private tryNext(t: RingToken, candidates: NodeId[], attempt: number): void {
    const next = candidates[0];
    if (next === undefined) {
      // Can only happen when the origin has left our roster.
      this.env.emit({ type: this.type('abandoned'), round: t.round, token: t.token, origin: t.origin, reason: 'origin not in roster' });
      return;
    }
    if (next === this.env.id) {
      // Only the origin reaches itself: every other node was skipped.
      const entry = this.seen.get(t.round);
      if (entry) this.complete(entry, [...t.path, next], t.skipped);
      return;
    }
    const body: RingToken = { type: this.type('token'), round: t.round, token: t.token, origin: t.origin, path: t.path, skipped: t.skipped };
    this.env.rpc(next, body, this.config.hopTimeoutMs, (reply) => {
      if (reply.type === this.type('token_ok')) return; // the next node has it now
      const silent = isError(reply) && reply.code === ErrorCode.Timeout;
      // The origin is never skipped, so giving up on it loses the whole round:
      // it gets as many tries as the round timeout has room for, so a few lost
      // messages on a lossy link cannot abandon a round whose origin is alive.
      const tries = next === t.origin ? this.env.members().length * this.config.hopAttempts : this.config.hopAttempts;
      if (silent && attempt < tries) {
        this.tryNext(t, candidates, attempt + 1); // a retransmission
        return;
      }
      if (next === t.origin) {
        this.env.emit({ type: this.type('abandoned'), round: t.round, token: t.token, origin: t.origin, reason: `origin ${next} unreachable` });
        return;
      }
      // (the host stamps `node` with the emitter's id, so the skipped one is `skipped`)
      this.env.emit({ type: this.type('skipped'), round: t.round, token: t.token, skipped: next });
      this.tryNext({ ...t, skipped: [...t.skipped, next] }, candidates.slice(1), 1);
    });
  }

  // --- closing a round ---------------------------------------------------

  private complete(entry: RingLogEntry, path: NodeId[], skipped: NodeId[]): void {
    const open = this.open.get(entry.round);
    const rtt_ms = open ? this.env.now() - open.startedAt : undefined;
    const late = !open && entry.hop === 0;
    entry.returned = { path, skipped, ...(rtt_ms !== undefined && { rtt_ms }), ...(late && { late }) };
    this.env.emit({ type: this.type('completed'), round: entry.round, token: entry.token, origin: entry.origin, path, skipped, ...(rtt_ms !== undefined && { rtt_ms }), ...(late && { late }) });
    if (!open) return;
    this.open.delete(entry.round);
    this.env.clearTimer(open.timer);
    if (open.client) {
      const visited = path.slice(0, -1);
      this.env.reply(open.client, { type: this.type('start_ok'), [this.names.textField]: entry.token, round: entry.round, path, visited, skipped, rtt_ms });
    }
  }

  private openRound(round: string, token: string, client?: Envelope): void {
    const timer = this.env.setTimer(this.roundTimeout(), () => this.giveUp(round, token));
    this.open.set(round, { startedAt: this.env.now(), timer, ...(client && { client }) });
  }

  private giveUp(round: string, token: string): void {
    const open = this.open.get(round);
    if (!open) return;
    this.open.delete(round);
    const limit = this.roundTimeout();
    this.env.emit({ type: this.type('timeout'), round, token, after_ms: limit });
    if (open.client) {
      this.env.reply(open.client, errorBody(ErrorCode.Timeout, `the round did not come back within ${limit} ms`, { [this.names.textField]: token, round }));
    }
  }

  // --- bookkeeping ---------------------------------------------------------

  private record(entry: RingLogEntry): RingLogEntry {
    this.seen.set(entry.round, entry);
    while (this.seen.size > this.config.logSize) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    this.env.emit({ type: this.names.seenEvent, token: entry.token, origin: entry.origin, hop: entry.hop, round: entry.round, from: entry.from });
    return entry;
  }

  private newRoundId(): string {
    this.rounds += 1;
    // The random tag keeps ids unique across restarts of this node.
    const tag = Math.floor(this.env.random() * 36 ** 6).toString(36);
    return `${this.env.id}:${this.rounds}:${tag}`;
  }

  /** The full name of one of this ring's message or event types. */
  private type(what: string): string {
    return `${this.names.protocol}.${what}`;
  }

  private roundTimeout(): number {
    const { roundTimeoutMs, hopAttempts, hopTimeoutMs } = this.config;
    return roundTimeoutMs > 0 ? roundTimeoutMs : (this.env.members().length + 1) * hopAttempts * hopTimeoutMs;
  }
}

/**
 * The nodes after `self` in ring order, up to and including `origin` (the
 * round ends there). At the origin itself this is every other node, then the
 * origin again.
 */
export function successors(members: readonly NodeId[], self: NodeId, origin: NodeId): NodeId[] {
  const at = members.indexOf(self);
  if (at < 0) return members.includes(origin) ? [origin] : [];
  const out: NodeId[] = [];
  for (let i = 1; i < members.length; i++) {
    const m = members[(at + i) % members.length] as NodeId;
    out.push(m);
    if (m === origin) return out;
  }
  if (origin === self) out.push(self);
  return out;
}

/** The node just before `self` in ring order (itself when alone). */
export function predecessor(members: readonly NodeId[], self: NodeId): NodeId {
  const at = members.indexOf(self);
  if (at < 0 || members.length === 0) return self;
  return members[(at - 1 + members.length) % members.length] as NodeId;
}

export function ring(config: Partial<RingConfig> = {}): ProtocolFactory {
  const full = { ...DEFAULT_RING_CONFIG, ...config };
  return (env) => new Ring(env, full);
}
