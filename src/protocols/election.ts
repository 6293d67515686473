/**
 * Leader election: two classic ways for a group of nodes to agree on who leads.
 *
 * **Lowest id alive** (workshop 7): every node keeps asking everyone "are you
 * there?" and calls the smallest id that answered — itself included — the
 * leader. No messages about leadership are exchanged at all: each node
 * reaches the same answer because it sees the same set of live nodes. When
 * the leader dies, the next round no longer hears it and picks the next
 * smallest id; when it returns, the next round hears it again and it leads
 * again (the interim leader simply yields).
 *
 * **Bully** (Garcia-Molina, 1982; workshop module 08): the highest id alive
 * leads. A node that starts, or that notices its leader no longer answers,
 * holds an election: it sends ELECTION to every node with a higher id. Each
 * higher node that is alive answers ALIVE (the "OK") and starts an election of
 * its own — it "bullies" the lower one out of the race. A node that hears no
 * ALIVE from any higher id within a timeout has won: it announces COORDINATOR
 * to everyone. A node that did hear an ALIVE waits for that COORDINATOR and,
 * if none comes in time, tries again. Followers ping their leader and start
 * an election when it stops answering. A returning node with a higher id than
 * the leader starts an election on boot and takes leadership back: that is
 * the classic bully rule, and distlab keeps it. The leader also repeats its
 * COORDINATOR announcement now and then, so that after a partition heals the
 * two leaders meet and the lower one gives way.
 *
 * Both algorithms share the status a node reports (`leader_id`, `is_leader`,
 * `election_in_progress`, as in the handout's `GET /`) and the client
 * operations `election.start` and `election.status`.
 */

import { ErrorCode, compareIds, errorBody, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory, TimerId } from './env.js';

export type ElectionAlgorithm = 'bully' | 'lowest';

export interface ElectionConfig {
  /** Which algorithm: 'bully' (highest id alive leads) or 'lowest' (lowest id alive leads). */
  algorithm: ElectionAlgorithm;
  /** Bully: how long a candidate waits for ALIVE from higher ids before declaring itself leader (ms). */
  electionTimeoutMs: number;
  /** Bully: after an ALIVE, how long to wait for COORDINATOR before starting over (ms). */
  coordinatorTimeoutMs: number;
  /** Bully: how often the leader repeats its COORDINATOR announcement (ms). */
  announceIntervalMs: number;
  /** Bully: how often a follower pings its leader; lowest: how often a node probes every peer (ms). */
  pingIntervalMs: number;
  /** How long a ping may go unanswered before the peer counts as dead (ms). */
  pingTimeoutMs: number;
  /** Lowest: pings to a silent peer within one probe round before it counts as gone (1 = no retry). */
  pingAttempts: number;
}

export const DEFAULT_ELECTION_CONFIG: ElectionConfig = {
  // Bully is the handout's Module 08 algorithm.
  algorithm: 'bully',
  // Loopback/LAN round trips are a few ms; 300 ms leaves room for a busy event loop.
  electionTimeoutMs: 300,
  // The winner announces right after its own electionTimeoutMs; 1 s is ample.
  coordinatorTimeoutMs: 1000,
  // Repeated announcements heal split leadership after a partition within ~1 s.
  announceIntervalMs: 1000,
  // Leader failure is noticed within pingIntervalMs + pingTimeoutMs = 800 ms ...
  pingIntervalMs: 500,
  // ... and a bully re-election adds about electionTimeoutMs: ~1.1 s in all.
  pingTimeoutMs: 300,
  // Lowest: one lost ping (or its answer) must not hand leadership to the next id for a
  // round; a second try makes that rare at a few % loss (a dead leader: ≤ 0.5 + 2 × 0.3 s).
  pingAttempts: 2,
};

/** What a node reports about leadership (the handout's `GET /` fields, plus context). */
export interface ElectionStatus {
  leader_id: NodeId | null;
  is_leader: boolean;
  election_in_progress: boolean;
  /** Number of leadership changes this node has seen: a local epoch, not a global term. */
  epoch: number;
  algorithm: ElectionAlgorithm;
}

export const ELECTION_MESSAGES = [
  'election.election',
  'election.coordinator',
  'election.ping',
  'election.start',
  'election.status',
] as const;

export class Election implements Protocol {
  readonly name = 'election';
  readonly handles = ELECTION_MESSAGES;

  private leader: NodeId | null = null;
  private epoch = 0;
  private electing = false;
  /** Bumped whenever an election round starts or ends, so stale replies are ignored. */
  private round = 0;
  private roundTimer: TimerId | undefined;
  private announceTimer: TimerId | undefined;
  /** Lowest: a probe round is in flight. */
  private probing = false;

  constructor(
    private readonly env: Env,
    private readonly config: ElectionConfig,
  ) {}

  start(): void {
    this.env.setTimer(this.config.pingIntervalMs, () => this.tick());
    if (this.config.algorithm === 'bully') {
      // The handout's node starts an election as soon as it boots; a
      // returning high node thereby takes its leadership back.
      this.startElection('boot');
    } else {
      this.probeRound('boot');
    }
  }

  status(): ElectionStatus {
    return {
      leader_id: this.leader,
      is_leader: this.leader === this.env.id,
      election_in_progress: this.electing,
      epoch: this.epoch,
      algorithm: this.config.algorithm,
    };
  }

  receive(msg: Envelope): void {
    const body = msg.body;
    switch (body.type) {
      case 'election.ping':
        this.env.reply(msg, { type: 'election.ping_ok', leader: this.leader });
        return;
      case 'election.status':
        this.env.reply(msg, { type: 'election.status_ok', ...this.status() });
        return;
      case 'election.start':
        this.env.reply(msg, { type: 'election.start_ok' });
        if (this.config.algorithm === 'bully') this.startElection('requested');
        else this.probeRound('requested');
        return;
      case 'election.election':
        // "I am alive, and I outrank you": the ALIVE answer (the bully's OK).
        this.env.reply(msg, { type: 'election.alive' });
        if (this.config.algorithm === 'bully') {
          if (compareIds(msg.src, this.env.id) < 0) this.startElection('challenged');
        } else {
          this.probeRound('challenged');
        }
        return;
      case 'election.coordinator':
        this.onCoordinator(msg);
        return;
    }
  }

  // ---- the periodic tick: followers watch the leader, the bully leader announces ----

  private tick(): void {
    this.env.setTimer(this.config.pingIntervalMs, () => this.tick());
    if (this.config.algorithm === 'lowest') {
      this.probeRound('periodic');
      return;
    }
    const leader = this.leader;
    if (this.electing || leader === this.env.id) return;
    if (leader === null) {
      this.startElection('no_leader');
      return;
    }
    this.env.rpc(leader, { type: 'election.ping' }, this.config.pingTimeoutMs, (reply) => {
      if (this.leader !== leader || this.electing) return;
      // No answer, or an answer from a node that no longer thinks it leads.
      if (reply.type !== 'election.ping_ok' || reply.leader !== leader) this.startElection('leader_lost');
    });
  }

  // ---- bully ----

  private startElection(reason: string): void {
    if (this.electing) return;
    this.electing = true;
    const round = ++this.round;
    this.env.emit({ type: 'election.started', algorithm: 'bully', reason });
    const higher = this.env.peers().filter((p) => compareIds(p, this.env.id) > 0);
    if (higher.length === 0) {
      this.becomeLeader();
      return;
    }
    let pending = higher.length;
    let outranked = false;
    for (const peer of higher) {
      this.env.rpc(peer, { type: 'election.election' }, this.config.electionTimeoutMs, (reply) => {
        if (round !== this.round) return; // this round is over already
        if (reply.type === 'election.alive') {
          outranked = true;
          this.awaitCoordinator(round);
        }
        if (--pending === 0 && !outranked) this.becomeLeader(); // nobody above me answered
      });
    }
  }

  /** A higher node is alive and running its own election: wait for its COORDINATOR. */
  private awaitCoordinator(round: number): void {
    if (this.roundTimer !== undefined) return;
    this.roundTimer = this.env.setTimer(this.config.coordinatorTimeoutMs, () => {
      this.roundTimer = undefined;
      if (round !== this.round || !this.electing) return;
      this.endElection();
      this.startElection('no_coordinator');
    });
  }

  private becomeLeader(): void {
    this.endElection();
    this.setLeader(this.env.id);
    this.announce();
  }

  private announce(): void {
    if (this.announceTimer !== undefined) this.env.clearTimer(this.announceTimer);
    this.announceTimer = undefined;
    if (this.leader !== this.env.id) return;
    for (const peer of this.env.peers()) this.env.send(peer, { type: 'election.coordinator', leader: this.env.id });
    this.announceTimer = this.env.setTimer(this.config.announceIntervalMs, () => this.announce());
  }

  private onCoordinator(msg: Envelope): void {
    const leader = typeof msg.body.leader === 'string' ? msg.body.leader : msg.src;
    // Peers announce without expecting an answer; a client (the handout's
    // POST /coordinator) asks with a msg_id and gets one.
    const asked = typeof msg.body.msg_id === 'number';
    if (!this.env.members().includes(leader)) {
      if (asked) this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, `${leader} is not a member of this cluster`));
      return;
    }
    if (asked) this.env.reply(msg, { type: 'election.coordinator_ok', leader });
    if (this.config.algorithm === 'lowest') {
      // Lowest-id nodes decide by probing; an announcement just prompts a check.
      this.probeRound('announced');
      return;
    }
    if (compareIds(leader, this.env.id) < 0) {
      // A lower node claims to lead while I am alive: bully it.
      this.startElection('lower_coordinator');
      return;
    }
    this.endElection();
    this.setLeader(leader);
  }

  private endElection(): void {
    this.electing = false;
    this.round++;
    if (this.roundTimer !== undefined) this.env.clearTimer(this.roundTimer);
    this.roundTimer = undefined;
  }

  // ---- lowest id alive ----

  /**
   * Asks every peer "are you there?" (a silent peer is asked again, up to
   * pingAttempts times, so one lost message does not count as a death); when
   * all have answered or stayed silent, the leader is the smallest id among
   * those that answered and myself.
   */
  private probeRound(reason: string): void {
    if (this.probing) return;
    this.probing = true;
    const uncertain = this.leader === null || reason === 'requested';
    if (uncertain) {
      this.electing = true;
      this.env.emit({ type: 'election.started', algorithm: 'lowest', reason });
    }
    const alive: NodeId[] = [this.env.id];
    const peers = this.env.peers();
    let pending = peers.length;
    const finish = (): void => {
      this.probing = false;
      this.electing = false;
      const lowest = [...alive].sort(compareIds)[0]!;
      this.setLeader(lowest);
    };
    if (pending === 0) {
      finish();
      return;
    }
    const ask = (peer: NodeId, attempt: number): void => {
      this.env.rpc(peer, { type: 'election.ping' }, this.config.pingTimeoutMs, (reply) => {
        if (reply.type === 'election.ping_ok') alive.push(peer);
        else if (attempt < this.config.pingAttempts) return ask(peer, attempt + 1); // lost, or gone? ask again
        if (--pending === 0) finish();
      });
    };
    for (const peer of peers) ask(peer, 1);
  }

  // ---- shared ----

  private setLeader(leader: NodeId): void {
    if (leader === this.leader) return;
    const previous = this.leader;
    this.leader = leader;
    this.epoch++;
    this.env.emit({ type: 'leader.changed', leader, previous, epoch: this.epoch });
  }
}

export function election(config: Partial<ElectionConfig> = {}): ProtocolFactory {
  const full: ElectionConfig = { ...DEFAULT_ELECTION_CONFIG, ...config };
  return (env) => new Election(env, full);
}
