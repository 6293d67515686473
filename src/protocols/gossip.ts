/**
 * Gossip: every node learns every node's version, by word of mouth.
 *
 * Each node owns a version number, bumped by a client's `gossip.update`, and
 * keeps `states`: for every node it has heard of, the highest version of that
 * node it has seen. Nobody broadcasts. Instead, every `intervalMs` each node
 * picks `fanout` peers at random and gossips with them:
 *
 * - push-pull anti-entropy (the default): the node sends its whole map in a
 *   `gossip.digest`. The receiver keeps, for every entry, the higher of the
 *   two versions (a merge that can be repeated, reordered or duplicated
 *   without harm), and answers with a `gossip.digest_ok` carrying the entries
 *   where *it* knows better. One exchange leaves both sides with the union of
 *   their knowledge, so news spreads like an epidemic — in about log N rounds
 *   — and a node cut off by a partition catches up by itself once it is back.
 * - push: only a node that knows some update sends (`gossip.push`), and
 *   nobody answers. This is the rumour spreading analysed by Pittel (1987):
 *   with fanout 1 every node has heard the rumour after about
 *   log2 N + ln N rounds.
 *
 * A node's own version is written to storage before the update is
 * acknowledged, so a restarted node never reuses a version number; a node
 * that hears of a higher version of itself (it lost its disk) adopts it for
 * the same reason. Whenever a node learns a newer version of some node it
 * emits `gossip.learned {origin, version}`.
 */
import type { Envelope, NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory } from './env.js';

export interface GossipConfig {
  /** 'push-pull' anti-entropy (digest and answer), or pure 'push' of known updates (no answers). */
  mode: 'push-pull' | 'push';
  /** How many random peers a node gossips with each round. */
  fanout: number;
  /** Milliseconds between a node's rounds. */
  intervalMs: number;
  /**
   * Fraction (0..1) of one interval over which a node's first round is
   * randomly delayed, so nodes do not all gossip at the same instant; 0
   * makes every node gossip in lockstep, as in the textbook's rounds.
   */
  jitter: number;
}

export const DEFAULT_GOSSIP_CONFIG: GossipConfig = {
  /** Anti-entropy: also heals nodes that missed every push, e.g. behind a partition. */
  mode: 'push-pull',
  /** Two peers a round: news still spreads in O(log N) rounds, at twice the messages of fanout 1. */
  fanout: 2,
  /** One round a second, like the handout's nodes: slow enough to watch in a visualizer. */
  intervalMs: 1000,
  /** Spread first rounds over a whole interval. */
  jitter: 1,
};

/** Node id → highest version seen. */
export type VersionMap = Record<NodeId, number>;

export class Gossip implements Protocol {
  readonly name = 'gossip';
  readonly handles = ['gossip.update', 'gossip.read', 'gossip.digest', 'gossip.digest_ok', 'gossip.push'] as const;
  private states: VersionMap = {};
  /**
   * Push mode only: the entries of `states` above version 0 — what it
   * spreads. Once a round has sent it, it is copied before it grows again,
   * so a message already sent never changes under its receiver.
   */
  private news: VersionMap | undefined;
  private newsSent = false;
  /** The highest version this node has handed out (durable or still being written). */
  private issued = 0;
  private readonly nextRound = (): void => this.round();

  constructor(
    private readonly env: Env,
    private readonly config: GossipConfig,
  ) {}

  start(): void {
    this.issued = this.env.storage.get<number>('version') ?? 0;
    this.states = { [this.env.id]: this.issued };
    this.news = this.issued > 0 ? { [this.env.id]: this.issued } : undefined;
    const firstRound = this.config.intervalMs * (1 - this.config.jitter * this.env.random());
    this.env.setTimer(firstRound, this.nextRound);
  }

  receive(msg: Envelope): void {
    switch (msg.body.type) {
      case 'gossip.update':
        return this.update(msg);
      case 'gossip.read':
        return this.env.reply(msg, { type: 'gossip.read_ok', states: this.status().states });
      case 'gossip.digest': {
        const theirs = asVersionMap(msg.body.states);
        const newer = this.newerThan(theirs);
        this.merge(theirs);
        // Answer with what the sender is missing; a client that asked (msg_id) always gets an answer.
        if (Object.keys(newer).length > 0 || typeof msg.body.msg_id === 'number') {
          this.env.reply(msg, { type: 'gossip.digest_ok', states: newer });
        }
        return;
      }
      case 'gossip.digest_ok':
      case 'gossip.push':
        return this.merge(msg.body.states);
    }
  }

  /** Read-only view for HTTP routes and watchers. */
  status(): { states: VersionMap } {
    return { states: { ...this.states } };
  }

  /** A client bumps this node's version; acknowledged once the new version is durable. */
  private update(msg: Envelope): void {
    const version = ++this.issued;
    this.env.storage.put('version', version, () => {
      this.learn(this.env.id, version);
      this.env.reply(msg, { type: 'gossip.update_ok', version });
    });
  }

  /** One round: gossip with `fanout` random peers, then schedule the next round. */
  private round(): void {
    if (this.config.mode === 'push') {
      const news = this.news;
      if (news !== undefined) {
        for (const peer of this.randomPeers()) this.env.send(peer, { type: 'gossip.push', states: news });
        this.newsSent = true;
      }
    } else {
      for (const peer of this.randomPeers()) this.env.send(peer, { type: 'gossip.digest', states: { ...this.states } });
    }
    this.env.setTimer(this.config.intervalMs, this.nextRound);
  }

  /** Takes the higher version of every well-formed entry of an incoming map. */
  private merge(theirs: unknown): void {
    if (typeof theirs !== 'object' || theirs === null) return;
    for (const [origin, version] of Object.entries(theirs)) if (isVersion(version)) this.learn(origin, version);
  }

  private learn(origin: NodeId, version: number): void {
    const known = this.states[origin];
    if (known !== undefined && version <= known) return;
    this.states[origin] = version;
    if (version > 0 && this.config.mode === 'push') {
      if (this.newsSent || this.news === undefined) {
        this.news = { ...this.news };
        this.newsSent = false;
      }
      this.news[origin] = version;
    }
    if (origin === this.env.id && version > this.issued) {
      // Someone remembers a newer version of us than we do: never hand that number out again.
      this.issued = version;
      this.env.storage.put('version', version);
    }
    if (version > (known ?? 0)) this.env.emit({ type: 'gossip.learned', origin, version });
  }

  /** The entries of ours that are newer than, or missing from, `theirs`. */
  private newerThan(theirs: VersionMap): VersionMap {
    const out: VersionMap = {};
    for (const [origin, version] of Object.entries(this.states)) {
      const other = theirs[origin];
      if (other === undefined || other < version) out[origin] = version;
    }
    return out;
  }

  /**
   * `fanout` distinct peers, uniformly at random. Drawing indices into the
   * member list (and redrawing on ourselves) keeps a round O(fanout) even
   * with thousands of members.
   */
  private randomPeers(): readonly NodeId[] {
    const members = this.env.members();
    if (this.config.fanout >= members.length - 1) return this.env.peers();
    const chosen: NodeId[] = [];
    while (chosen.length < this.config.fanout) {
      const candidate = members[Math.floor(this.env.random() * members.length)] as NodeId;
      if (candidate !== this.env.id && !chosen.includes(candidate)) chosen.push(candidate);
    }
    return chosen;
  }
}

/** A version is a non-negative integer; anything else in an incoming map is ignored. */
function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Keeps only the well-formed entries of an incoming map. */
function asVersionMap(value: unknown): VersionMap {
  const out: VersionMap = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [origin, version] of Object.entries(value)) if (isVersion(version)) out[origin] = version;
  return out;
}

export function gossip(config: Partial<GossipConfig> = {}): ProtocolFactory {
  const full: GossipConfig = { ...DEFAULT_GOSSIP_CONFIG, ...config };
  if (!Number.isInteger(full.fanout) || full.fanout < 1) throw new RangeError(`gossip fanout must be an integer >= 1, got ${full.fanout}`);
  if (!(full.intervalMs > 0)) throw new RangeError(`gossip interval must be positive, got ${full.intervalMs}`);
  if (!(full.jitter >= 0 && full.jitter <= 1)) throw new RangeError(`gossip jitter must be within 0..1, got ${full.jitter}`);
  return (env) => new Gossip(env, full);
}
