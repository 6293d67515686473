/**
 * A replicated, durable key-value store: Dynamo's shape, with an optional
 * linearizable mode (the ABD algorithm).
 *
 * Placement. Keys are placed on a consistent-hash ring of the cluster's
 * members (sharding.ts). A key's *preference list* is the first N distinct
 * nodes clockwise from the key; they are its replicas. Any node accepts a
 * client request for any key and *coordinates* it: it talks to the key's
 * replicas and answers the client.
 *
 * Quorums. A write is sent to all N replicas and acknowledged once W of them
 * said "stored"; a read asks all N and answers once R replied, with the
 * newest version among the replies (quorum.ts). With R + W > N every read
 * quorum meets every write quorum, so a read hears from at least one replica
 * that has the latest acknowledged write. Defaults N=3, R=2, W=2: one replica
 * may be down and both still work; with two down, nothing can be promised.
 *
 * Versions. Every write gets a hybrid-logical-clock version (versions.ts):
 * totally ordered, close to real time, and causal. Replicas that meet two
 * versions keep the greater one (last writer wins), so they converge;
 * when the two were concurrent writes the loser is reported (`kv.conflict`
 * event, `conflicts` in the reply), not dropped silently. A version must
 * never be issued twice, not even after a crash, or two different values
 * could carry the same version and replicas would never agree. So the node
 * persists a *ceiling* (a wall time a little ahead of what it has issued)
 * before using versions below it, and after a restart it waits until its
 * clock has passed the old ceiling before it issues any version (the "commit
 * wait" of Spanner, in miniature).
 *
 * Durability. A replica acknowledges a write only from inside the storage's
 * `onDurable` callback, so an acknowledgement means "on disk", and the
 * coordinator answers OK only after W of them. A node killed and restarted
 * finds every write it acknowledged. For the same reason a replica answers
 * reads only with data already on disk: a reader must never see a value
 * that a crash can still erase.
 *
 * Definite or indefinite failure — the part the checkers depend on.
 * - A read that cannot reach R replicas fails with code 11 (definite): a
 *   read changes nothing (its write-back in linearizable mode only spreads
 *   a value that some write already put on a replica).
 * - A write fails with code 11 (definite) only when the coordinator is sure
 *   no replica can have applied it: it never sent the value to anyone (too
 *   few replicas exist, the node was still waiting for its clock after a
 *   restart, or, in linearizable mode, the first phase failed).
 * - Once the value has been sent to any replica, a failed write is
 *   INDEFINITE (code 0): a replica that did not answer may have stored it
 *   (its answer may be what got lost), and even one copy is enough for read
 *   repair, hinted handoff or anti-entropy to spread it to every replica
 *   later. A write that reached 1 of W=2 replicas did not "fail": it is in
 *   limbo, and the client must be told exactly that.
 * Both carry `{error: 'quorum not met', needed, got, replicas, definite}`.
 *
 * Read repair. A read in quorum mode answers as soon as R replicas replied,
 * then keeps listening until every replica answered or timed out; every
 * replica seen with an older version (or none) is sent the newest one. This
 * is fire-and-forget: the client does not wait for it.
 *
 * Linearizable mode (ABD: Attiya, Bar-Noy, Dolev). Quorum mode can still
 * show a reader an old value after another reader saw the new one (the
 * write had reached one replica, the first read hit it, the second did not).
 * ABD closes the gap: a read queries R replicas, takes the newest value, and
 * *writes it back* to W replicas before answering, so once any read returned
 * a value every later read sees it too. A write first queries R replicas for
 * the highest version, then writes a strictly higher one to W. Hinted
 * (sloppy) acknowledgements never count here, and R + W > N is required.
 * Compare-and-set is not offered: two coordinators could both read the old
 * value and both "succeed"; CAS needs consensus (Paxos, Raft), not quorums.
 *
 * Hinted handoff. When a replica does not answer a write, the coordinator
 * writes the value to the next node on the ring beyond the preference list,
 * with a hint naming the intended owner. The holder keeps hints durably,
 * tries to deliver them now and then, and deletes a hint once the owner has
 * acknowledged it durably. By default hints do not count towards W (a
 * strict quorum); `sloppy: true` lets them count, as Dynamo does, which
 * keeps writes available when replicas are down at the price of R + W > N
 * no longer guaranteeing that reads see them.
 *
 * Anti-entropy (kv-antientropy.ts). Periodically each node picks a peer it
 * shares keys with; they compare digests of the keys both should hold and
 * exchange the keys of the buckets that differ, in both directions. A node
 * that was down catches up this way without any client traffic.
 *
 * Membership changes. The ring is rebuilt whenever the member list changes.
 * A key whose preference list gained a node reaches it by anti-entropy; a
 * node that holds a key it no longer owns hands it to the current owners
 * and deletes its own copy only once all of them stored it durably. Nothing
 * is deleted before it is safe elsewhere, so nothing is lost.
 * (Linearizable mode assumes the membership does not change while it runs:
 * moving quorums safely needs a reconfiguration protocol.)
 *
 * Client operations (from any id that is not a member):
 *   {type:'kv.put', key, value, w?, context?} → {type:'kv.put_ok', key, value, version, acks, replicas, hinted, conflicts?}
 *   {type:'kv.get', key, r?}             → {type:'kv.get_ok', key, value, version, from, replicas}  or error 20
 *   {type:'kv.delete', key, w?, context?} → {type:'kv.delete_ok', key, version, acks, replicas, hinted}
 * (docs/kv.md lists every field, error, message and event.)
 */

import { ErrorCode, errorBody, isError, type Body, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory, TimerId } from './env.js';
import { bucketOf, differingBuckets, digest, DigestIndex, type KeyVersion } from './kv-antientropy.js';
import { newest, quorumConfigProblem, quorumState, staleReplicas, type ReplicaReply } from './quorum.js';
import { ConsistentHashRing, DEFAULT_RING_CONFIG } from './sharding.js';
import {
  compareVersions,
  maxVersion,
  nextVersion,
  observe,
  resolve,
  ZERO_CLOCK,
  ZERO_VERSION,
  type HlcClock,
  type Version,
  type Versioned,
} from './versions.js';

export type KvMode = 'quorum' | 'linearizable';

export interface KvConfig {
  /** Replicas per key (length of the preference list). */
  n: number;
  /** Replies a read waits for (a request may ask for another r). */
  r: number;
  /** Durable acknowledgements a write waits for (a request may ask for another w). */
  w: number;
  /** 'quorum' (Dynamo-style) or 'linearizable' (ABD: reads write back, writes query first). */
  mode: KvMode;
  /** A client request is answered within this many milliseconds, one way or another. */
  requestTimeoutMs: number;
  /** How long the coordinator waits for one replica before writing a hint elsewhere. */
  replicaTimeoutMs: number;
  /** Let hinted writes count towards W (Dynamo's sloppy quorum). Never in linearizable mode. */
  sloppy: boolean;
  /** Mean pause between two anti-entropy rounds (each round also hands off keys this node no longer owns). */
  antiEntropyIntervalMs: number;
  /**
   * Anti-entropy compares only versions older than this many milliseconds:
   * a younger write may still be on its way to its replicas, and counting it
   * as a divergence would ship, every round, the records of every bucket
   * that saw a recent write (all of them, under steady writes).
   */
  antiEntropySettleMs: number;
  /** Pause between two attempts to deliver the hints this node holds. */
  hintIntervalMs: number;
  /** Buckets of the anti-entropy digest. */
  digestBuckets: number;
  /**
   * The most an anti-entropy answer carries: records of at most this many
   * characters of JSON. A node far behind (wiped, or down for long) differs
   * in every bucket, and one answer with every record would not fit in a
   * message (a live node takes 4 MiB): the answer carries the buckets that
   * fit, and later rounds the rest. A character takes up to 3 bytes, and an
   * answer may pass the budget by one record (a /data value of up to 1 MiB):
   * 512 Ki characters keep the worst case under 4 MiB.
   */
  antiEntropyReplyChars: number;
  /** Virtual nodes per member on the ring (the sharding default, so `distlab shard which` agrees). */
  vnodes: number;
  /**
   * How far ahead of the versions it issues a node persists its clock
   * ceiling. After a restart the node issues no version until its clock has
   * passed the old ceiling, so writes it coordinates wait at most this long.
   */
  clockLeaseMs: number;
  /** A version this far ahead of the local clock is reported (`kv.clock_ahead`): its node's clock runs fast. */
  maxClockOffsetMs: number;
}

export const DEFAULT_KV_CONFIG: KvConfig = {
  n: 3,
  r: 2,
  w: 2,
  mode: 'quorum',
  requestTimeoutMs: 1000,
  replicaTimeoutMs: 300,
  sloppy: false,
  antiEntropyIntervalMs: 1000,
  antiEntropySettleMs: 1000,
  hintIntervalMs: 500,
  digestBuckets: 64,
  antiEntropyReplyChars: 512 * 1024,
  vnodes: DEFAULT_RING_CONFIG.vnodes,
  clockLeaseMs: 500,
  maxClockOffsetMs: 500,
};

/** What a replica stores for a key: the value, its version, and whether it is a deletion. */
export interface KvRecord extends Versioned<unknown> {
  /** A deletion is stored as a tombstone, so that it too has a version and wins over older values. */
  tombstone?: true;
}

/** Why a replica is being sent a record: shown in events. */
export type PutCause = 'write' | 'read_repair' | 'anti_entropy' | 'hint' | 'handoff';

/** A value a write overwrote without having seen it (or that overwrote it). */
export interface Conflict {
  value: unknown;
  version: Version;
  tombstone?: true;
}

export interface KvStatus {
  mode: KvMode;
  n: number;
  r: number;
  w: number;
  members: NodeId[];
  /** Keys with a live value on this node. */
  keys: number;
  tombstones: number;
  /** Hints held for other nodes. */
  hints: number;
  lastAntiEntropy: { peer: NodeId; at: number; pulled: number; pushed: number } | null;
}

const DATA = 'd/';
const HINTS = 'h/';
const CLOCK_KEY = 'clock';

const hintKey = (owner: NodeId, key: string) => `${HINTS}${owner}/${key}`;

interface ReplicaPutBody extends Body {
  key: string;
  record: KvRecord;
  cause: PutCause;
  hint_for?: NodeId;
}

/** Where a replicated write stands. */
interface WriteProgress {
  replicas: readonly NodeId[];
  /** Preference-list replicas that stored the value durably. */
  acks: NodeId[];
  /** Fallback nodes that hold it as a hint: {holder, owner}. */
  hinted: Array<{ holder: NodeId; owner: NodeId }>;
  /** True once the value was handed to any node: from then on a failure is indefinite. */
  sent: boolean;
  conflicts: Conflict[];
}

interface ReadProgress {
  replicas: readonly NodeId[];
  replies: ReplicaReply<unknown>[];
}

type Respond = (body: Body) => void;

const REPLICA_TYPES = ['kv.replica_put', 'kv.replica_get', 'kv.ae_digest'] as const;
const CLIENT_TYPES = ['kv.put', 'kv.get', 'kv.delete'] as const;

export class Kv implements Protocol {
  readonly name = 'kv';
  readonly handles = [...CLIENT_TYPES, ...REPLICA_TYPES];
  readonly config: KvConfig;

  private ring!: ConsistentHashRing;
  private ringOf = '';
  private lastMembers: readonly NodeId[] | undefined;
  private clock: HlcClock = ZERO_CLOCK;
  /** Versions with wall <= this are covered by a durable ceiling. */
  private durableCeiling = 0;
  /** A ceiling write in flight covers up to here. */
  private raisingTo = 0;
  /** After a restart: no version may be issued until now() has passed this. */
  private restartFloor = -1;
  private waitingForCeiling: Array<{ wall: number; go: () => void }> = [];
  /** Keys (hints and handoffs) with a delivery in flight, so a round does not send them twice. */
  private delivering = new Set<string>();
  private lastAntiEntropy: KvStatus['lastAntiEntropy'] = null;
  /** Anti-entropy digests of the keys this node owns, kept up to date as they change. */
  private readonly digests: DigestIndex;
  /** Keys this node holds but no longer owns: each round hands them to their owners. */
  private readonly leaving = new Set<string>();
  /** Per key with writes not yet durable: how many, and the newest record known to be on disk. */
  private unsynced = new Map<string, { writes: number; durable: KvRecord | undefined }>();

  constructor(
    private readonly env: Env,
    config: Partial<KvConfig> = {},
  ) {
    this.config = { ...DEFAULT_KV_CONFIG, ...config };
    this.digests = new DigestIndex(this.config.digestBuckets);
    const problem = quorumConfigProblem(this.config);
    if (problem) throw new Error(`kv: ${problem}`);
    if (this.config.mode === 'linearizable' && this.config.r + this.config.w <= this.config.n) {
      throw new Error('kv: linearizable mode needs r + w > n');
    }
  }

  start(): void {
    const ceiling = this.env.storage.get<number>(CLOCK_KEY);
    if (ceiling !== undefined) {
      this.durableCeiling = this.raisingTo = ceiling;
      this.restartFloor = ceiling;
    }
    this.syncMembership();
    this.scheduleAntiEntropy();
    this.scheduleHints();
  }

  receive(msg: Envelope): void {
    const respond: Respond = (body) => this.env.reply(msg, body);
    switch (msg.body.type) {
      case 'kv.put':
      case 'kv.delete':
        return this.clientWrite(msg.body, respond);
      case 'kv.get':
        return this.clientGet(msg.body, respond);
      case 'kv.replica_put':
        return this.onReplicaPut(msg.src, msg.body as ReplicaPutBody, respond);
      case 'kv.replica_get':
        return this.onReplicaGet(msg.body, respond);
      case 'kv.ae_digest':
        return this.onDigest(msg.src, msg.body, respond);
    }
  }

  /** Counts for HTTP views. */
  status(): KvStatus {
    let keys = 0;
    let tombstones = 0;
    for (const [, record] of this.held()) {
      if (record.tombstone) tombstones++;
      else keys++;
    }
    const { mode, n, r, w } = this.config;
    return { mode, n, r, w, members: [...this.env.members()], keys, tombstones, hints: this.env.storage.keys(HINTS).length, lastAntiEntropy: this.lastAntiEntropy };
  }

  /** This node's stored record for a key (for views and tests). */
  record(key: string): KvRecord | undefined {
    return this.env.storage.get<KvRecord>(DATA + key);
  }

  /** Every key this node holds with its record, in ascending key order. */
  private held(): Array<[string, KvRecord]> {
    const entries = this.env.storage.entries<KvRecord>(DATA);
    for (const e of entries) e[0] = e[0].slice(DATA.length);
    return entries;
  }

  /** The key's replicas under the current membership, owner first (a copy, for views and tests). */
  preferenceList(key: string): NodeId[] {
    return [...this.replicasOf(key)];
  }

  /** The key's replicas under the current membership, owner first: the ring's shared, read-only list. */
  private replicasOf(key: string): readonly NodeId[] {
    this.syncMembership();
    return this.ring.preferenceList(key, this.config.n);
  }

  // ------------------------------------------------------------ client side

  private clientWrite(body: Body, respond: Respond): void {
    const isDelete = body.type === 'kv.delete';
    const key = body.key;
    const bad =
      badKey(key) ??
      (isDelete || 'value' in body ? undefined : 'put needs a value') ??
      (body.context === undefined || isVersion(body.context) ? undefined : 'context must be a version {wall, logical, node}') ??
      this.badCount(body.w, 'w');
    if (bad) return respond(errorBody(ErrorCode.MalformedRequest, bad));
    const w = (body.w as number | undefined) ?? this.config.w;
    if (this.config.mode === 'linearizable' && this.config.r + w <= this.config.n) {
      return respond(errorBody(ErrorCode.MalformedRequest, `linearizable writes need r + w > n (r=${this.config.r}, w=${w}, n=${this.config.n})`));
    }
    const replicas = this.replicasOf(key as string);
    let progress: WriteProgress | undefined;
    const request = this.request(respond, () => this.writeFailure(replicas, w, progress));

    const write = (seen: Version) =>
      this.issueVersion(seen, (version) => {
        if (request.done) return;
        const record: KvRecord = isDelete ? { value: null, version, seen, tombstone: true } : { value: body.value, version, seen };
        progress = this.replicate(key as string, record, w, [], (met, done) => {
          if (!met) return request.finish(this.writeFailure(replicas, w, done));
          const answer: Body = { type: isDelete ? 'kv.delete_ok' : 'kv.put_ok', key, version, acks: done.acks, replicas, hinted: done.hinted };
          if (!isDelete) answer.value = body.value;
          if (done.conflicts.length > 0) answer.conflicts = done.conflicts;
          request.finish(answer);
        });
      });

    if (this.config.mode === 'quorum') {
      // No read first: the write replaces what the client says it read
      // (`context`, the version of an earlier get) or what this node itself
      // holds, whichever is newer. Anything newer it overwrites is reported.
      const local = this.record(key as string)?.version ?? ZERO_VERSION;
      write(isVersion(body.context) ? maxVersion(local, body.context) : local);
    } else {
      // ABD, phase 1: learn the highest version a read quorum holds.
      this.query(key as string, this.config.r, (met, read) => {
        if (request.done) return;
        if (!met) return request.finish(quorumNotMet(read.replicas, this.config.r, read.replies.length, true, 'read phase of the write'));
        write(newest(read.replies)?.value.version ?? ZERO_VERSION);
      });
    }
    request.arm();
  }

  private clientGet(body: Body, respond: Respond): void {
    const key = body.key;
    const bad = badKey(key) ?? this.badCount(body.r, 'r');
    if (bad) return respond(errorBody(ErrorCode.MalformedRequest, bad));
    const r = (body.r as number | undefined) ?? this.config.r;
    if (this.config.mode === 'linearizable' && r + this.config.w <= this.config.n) {
      return respond(errorBody(ErrorCode.MalformedRequest, `linearizable reads need r + w > n (r=${r}, w=${this.config.w}, n=${this.config.n})`));
    }
    const replicas = this.replicasOf(key as string);
    let read: ReadProgress | undefined;
    const request = this.request(respond, () => quorumNotMet(replicas, r, read?.replies.length ?? 0, true));
    const repaired = new Set<NodeId>();

    const answer = (best: ReturnType<typeof newest<unknown>>, from: NodeId[]) => {
      if (best === undefined || (best.value as KvRecord).tombstone) {
        return request.finish(errorBody(ErrorCode.KeyDoesNotExist, `key '${key}' does not exist`, { key, replicas, ...(best ? { version: best.value.version } : {}) }));
      }
      request.finish({ type: 'kv.get_ok', key, value: best.value.value, version: best.value.version, from, replicas });
    };

    // Read repair (quorum mode), fire-and-forget: every stale replica heard
    // from, now or later, is sent the newest value.
    const repair = (read: ReadProgress) => {
      if (!request.done || this.config.mode !== 'quorum') return;
      const best = newest(read.replies);
      if (!best) return;
      const stale = staleReplicas(read.replies, best).filter((node) => !repaired.has(node));
      if (stale.length === 0) return;
      for (const node of stale) {
        repaired.add(node);
        this.sendRecord(node, key as string, best.value as KvRecord, 'read_repair');
      }
      this.env.emit({ type: 'kv.read_repair', key, version: best.value.version, replicas: stale });
    };

    read = this.query(
      key as string,
      r,
      (met, progress) => {
        if (request.done) return;
        if (!met) return request.finish(quorumNotMet(replicas, r, progress.replies.length, true));
        const best = newest(progress.replies);
        if (this.config.mode === 'quorum' || best === undefined || best.replicas.length >= this.config.w) {
          answer(best, best?.replicas ?? []);
          return repair(progress);
        }
        // ABD, phase 2: write the value back until W replicas hold it, so no
        // later read can return anything older.
        this.replicate(key as string, best.value as KvRecord, this.config.w, best.replicas, (ok, back) => {
          if (!ok) return request.finish(quorumNotMet(replicas, this.config.w, back.acks.length, true, 'write-back of the read'));
          answer(best, back.acks);
        });
      },
      repair,
    );
    request.arm();
  }

  /**
   * A client request's answer and timeout: `finish` answers once, whether
   * the operation or the timeout comes first. The caller starts the
   * operation, then calls `arm`: an operation that finished at once (a read
   * this node alone can answer) needs no timer.
   */
  private request(respond: Respond, onTimeout: () => Body) {
    const state = {
      done: false,
      timer: undefined as TimerId | undefined,
      arm: () => {
        if (!state.done) state.timer = this.env.setTimer(this.config.requestTimeoutMs, () => state.finish(onTimeout()));
      },
      finish: (body: Body) => {
        if (state.done) return;
        state.done = true;
        if (state.timer !== undefined) this.env.clearTimer(state.timer);
        respond(body);
      },
    };
    return state;
  }

  private writeFailure(replicas: readonly NodeId[], w: number, progress: WriteProgress | undefined): Body {
    return quorumNotMet(replicas, w, progress?.acks.length ?? 0, !progress?.sent);
  }

  private badCount(value: unknown, name: string): string | undefined {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > this.config.n) {
      return `${name} must be an integer from 1 to n=${this.config.n}`;
    }
    return undefined;
  }

  // ------------------------------------------------------- coordinator core

  /**
   * Sends `record` to every replica of `key` not in `already` and calls
   * `onDone(true)` once `needed` replicas (counting `already`) stored it
   * durably, or `onDone(false)` as soon as that has become impossible. A
   * replica that fails gets a hint written on the next node beyond the
   * preference list.
   */
  private replicate(key: string, record: KvRecord, needed: number, already: NodeId[], onDone: (met: boolean, progress: WriteProgress) => void): WriteProgress {
    const replicas = this.replicasOf(key);
    const progress: WriteProgress = { replicas, acks: [...already], hinted: [], sent: false, conflicts: [] };
    if (replicas.length < needed) {
      // Too few nodes to ever meet the quorum: send nothing, fail definitely.
      onDone(false, progress);
      return progress;
    }
    let fallbacks: NodeId[] | undefined;
    const sloppy = this.config.sloppy && this.config.mode === 'quorum';
    let failures = 0;
    let settled = false;
    const check = () => {
      if (settled) return;
      const counted = progress.acks.length + (sloppy ? progress.hinted.length : 0);
      const state = counted >= needed ? 'met' : sloppy ? 'pending' : quorumState(needed, replicas.length, progress.acks.length, failures);
      if (state === 'pending') return;
      settled = true;
      onDone(state === 'met', progress);
    };
    const noteConflict = (reply: Body) => {
      const conflict = reply.conflict as Conflict | undefined;
      if (conflict && !progress.conflicts.some((c) => compareVersions(c.version, conflict.version) === 0)) progress.conflicts.push(conflict);
    };
    const hintOnFallback = (owner: NodeId) => {
      fallbacks ??= this.fallbacks(key);
      const holder = fallbacks.shift();
      if (holder === undefined) return;
      this.call(holder, { type: 'kv.replica_put', key, record, cause: 'write', hint_for: owner }, (reply) => {
        if (isError(reply)) return hintOnFallback(owner);
        progress.hinted.push({ holder, owner });
        check();
      });
    };
    const onAnswer = (replica: NodeId, reply: Body) => {
      if (isError(reply)) {
        failures++;
        hintOnFallback(replica);
      } else {
        noteConflict(reply);
        progress.acks.push(replica);
      }
      check();
    };
    for (const replica of replicas) {
      if (already.includes(replica)) continue;
      progress.sent = true;
      if (replica === this.env.id) {
        // This node's own copy needs no message: apply it here; it counts once it is durable.
        this.apply(key, record, 'write', replica, (winner, conflict) => {
          onAnswer(replica, { type: 'kv.replica_put_ok', key, version: winner.version, ...(conflict ? { conflict } : {}) });
        });
        continue;
      }
      this.call(replica, { type: 'kv.replica_put', key, record, cause: 'write' }, (reply) => onAnswer(replica, reply));
    }
    check();
    return progress;
  }

  /**
   * Asks every replica of `key` for its record; `onDone(true)` once `needed`
   * replied, `onDone(false)` once that has become impossible. `onEachReply`
   * runs after every reply (read repair listens there).
   *
   * When this node is itself a replica, its own answer needs no message: it
   * is taken at once, after the requests to the others have left. So a read
   * whose quorum this node alone meets (R=1, or a cluster of one) settles
   * inside this call, and both callbacks may run before it returns.
   */
  private query(key: string, needed: number, onDone: (met: boolean, progress: ReadProgress) => void, onEachReply?: (progress: ReadProgress) => void): ReadProgress {
    const replicas = this.replicasOf(key);
    const progress: ReadProgress = { replicas, replies: [] };
    let failures = 0;
    let settled = false;
    const check = () => {
      if (!settled) {
        const state = quorumState(needed, replicas.length, progress.replies.length, failures);
        if (state !== 'pending') {
          settled = true;
          onDone(state === 'met', progress);
        }
      }
      onEachReply?.(progress);
    };
    const take = (replica: NodeId, reply: Body) => {
      if (isError(reply)) failures++;
      else progress.replies.push({ replica, value: (reply.record as KvRecord | null) ?? undefined });
      if (!isError(reply) && reply.record) this.observeVersion((reply.record as KvRecord).version);
      check();
    };
    for (const replica of replicas) {
      if (replica !== this.env.id) this.call(replica, { type: 'kv.replica_get', key }, (reply) => take(replica, reply));
    }
    if (replicas.includes(this.env.id)) take(this.env.id, { type: 'kv.replica_get_ok', key, record: this.durableRecord(key) ?? null });
    else if (replicas.length < needed) check(); // can never be met: fail now
    return progress;
  }

  /** A request to a replica (the runtime delivers one to this node itself locally). */
  private call(dest: NodeId, body: Body, onReply: (reply: Body) => void): void {
    this.env.rpc(dest, body, this.config.replicaTimeoutMs, onReply);
  }

  /** Fire-and-forget delivery of a record (read repair, anti-entropy pushes). */
  private sendRecord(dest: NodeId, key: string, record: KvRecord, cause: PutCause): void {
    const body: ReplicaPutBody = { type: 'kv.replica_put', key, record, cause };
    this.env.send(dest, body);
  }

  // ------------------------------------------------------------ replica side

  private onReplicaPut(src: NodeId, body: ReplicaPutBody, respond: Respond): void {
    const { key, record, cause, hint_for: owner } = body;
    if (badKey(key) || !isRecord(record)) return respond(errorBody(ErrorCode.MalformedRequest, 'replica_put needs a key and a record'));
    // A version from far in our future means its issuer's clock runs fast:
    // it would win every conflict and drag our clock along. Say so.
    const ahead = record.version.wall - this.env.now();
    if (ahead > this.config.maxClockOffsetMs) this.env.emit({ type: 'kv.clock_ahead', key, from: src, version: record.version, ahead_ms: ahead });
    this.observeVersion(record.version);
    if (owner !== undefined && owner !== this.env.id) {
      // Held for someone else: a hint, kept apart from this node's own data.
      const held = this.env.storage.get<KvRecord>(hintKey(owner, key));
      const keep = held ? resolve(held, record).winner : record;
      this.env.storage.put(hintKey(owner, key), keep, () => {
        this.env.emit({ type: 'kv.hint_stored', key, owner, version: keep.version });
        respond({ type: 'kv.replica_put_ok', key, version: keep.version });
      });
      return;
    }
    this.apply(key, record, cause, src, (winner, conflict) => {
      respond({ type: 'kv.replica_put_ok', key, version: winner.version, ...(conflict ? { conflict } : {}) });
    });
  }

  /**
   * Merges `incoming` into this node's copy of `key` (the greater version
   * wins) and calls `onDurable` once the winner is on disk. The winner is
   * written even when it is the record already stored: its durability
   * callback then also tells us the earlier write of it is durable.
   */
  private apply(key: string, incoming: KvRecord, cause: PutCause, from: NodeId, onDurable: (winner: KvRecord, conflict?: Conflict) => void): void {
    const current = this.record(key);
    const resolution = current ? resolve(current, incoming) : { winner: incoming, loser: undefined, concurrent: false };
    const winner = resolution.winner as KvRecord;
    const changed = !current || compareVersions(current.version, winner.version) !== 0;
    let conflict: Conflict | undefined;
    if (resolution.concurrent && resolution.loser) {
      const loser = resolution.loser as KvRecord;
      conflict = { value: loser.value, version: loser.version, ...(loser.tombstone ? { tombstone: true as const } : {}) };
      this.env.emit({ type: 'kv.conflict', key, winner: winner.version, loser: conflict });
    }
    if (changed) this.track(key, current, winner);
    const sync = this.unsynced.get(key) ?? { writes: 0, durable: current };
    sync.writes++;
    this.unsynced.set(key, sync);
    this.env.storage.put(DATA + key, winner, () => {
      if (!sync.durable || compareVersions(winner.version, sync.durable.version) > 0) sync.durable = winner;
      if (--sync.writes === 0) this.unsynced.delete(key);
      if (changed) {
        this.env.emit({ type: 'key.written', key, version: winner.version, cause });
        if (cause === 'anti_entropy' || cause === 'handoff' || cause === 'hint') {
          this.env.emit({ type: 'kv.repaired', key, from, to: this.env.id, version: winner.version, cause });
        }
      }
      onDurable(winner, conflict);
    });
  }

  /**
   * A replica answers a read only with durable data: a value still on its
   * way to the disk could vanish in a crash after a reader has seen it (and
   * in linearizable mode, a read that finds W replicas holding a value skips
   * the write-back). While a key has writes in flight, a read gets the
   * newest record of it known to be on disk.
   */
  private onReplicaGet(body: Body, respond: Respond): void {
    const key = body.key;
    if (badKey(key)) return respond(errorBody(ErrorCode.MalformedRequest, 'replica_get needs a key'));
    respond({ type: 'kv.replica_get_ok', key, record: this.durableRecord(key as string) ?? null });
  }

  /** This node's copy of `key` as it is on disk (older than `record` while a write of it is in flight). */
  private durableRecord(key: string): KvRecord | undefined {
    const sync = this.unsynced.get(key);
    return sync ? sync.durable : this.record(key);
  }

  // ------------------------------------------------------------------ clock

  private observeVersion(version: Version): void {
    this.clock = observe(this.clock, version, this.env.now());
  }

  /**
   * Issues a version greater than `seen` and than every version this node
   * issued before, even before a crash, then calls `then` with it.
   */
  private issueVersion(seen: Version, then: (version: Version) => void): void {
    const now = this.env.now();
    if (now <= this.restartFloor) {
      // Commit wait: versions up to the old ceiling may have been issued
      // before the crash; wait until the clock is past it.
      this.env.setTimer(this.restartFloor - now + 1, () => this.issueVersion(seen, then));
      return;
    }
    const { clock, version } = nextVersion(this.clock, now, this.env.id, seen);
    this.clock = clock;
    // Keep the ceiling a lease ahead, raising it in the background before
    // it is reached, so that writes seldom wait for it.
    if (version.wall + this.config.clockLeaseMs / 2 > this.raisingTo) this.raiseCeiling(version.wall + this.config.clockLeaseMs);
    if (version.wall <= this.durableCeiling) return then(version);
    this.waitingForCeiling.push({ wall: version.wall, go: () => then(version) });
  }

  private raiseCeiling(target: number): void {
    this.raisingTo = target;
    this.env.storage.put(CLOCK_KEY, target, () => {
      this.durableCeiling = Math.max(this.durableCeiling, target);
      const ready = this.waitingForCeiling.filter((w) => w.wall <= this.durableCeiling);
      this.waitingForCeiling = this.waitingForCeiling.filter((w) => w.wall > this.durableCeiling);
      for (const w of ready) w.go();
    });
  }

  // ------------------------------------------------------------ membership

  /** Rebuilds the ring when the member list changed since it was built. */
  private syncMembership(): void {
    const members = this.env.members();
    if (members === this.lastMembers) return;
    this.lastMembers = members;
    const signature = members.join('\u0000');
    if (signature === this.ringOf) return;
    const first = this.ringOf === '';
    this.ringOf = signature;
    this.ring = new ConsistentHashRing(members, { vnodes: this.config.vnodes });
    this.reindex();
    if (!first) this.env.emit({ type: 'kv.ring_changed', members: [...members] });
  }

  /** Rebuilds the digests and the keys to hand off from what storage holds: at start, and when the ring changed. */
  private reindex(): void {
    this.digests.clear();
    // The horizon a round would set: keys older than it fold at once instead of queueing.
    this.digests.advance(this.env.now() - 2 * this.config.antiEntropySettleMs);
    this.leaving.clear();
    for (const [key, record] of this.held()) this.track(key, undefined, record);
  }

  /** Keeps the digests and the keys to hand off in step with a change of `key`'s record from `before` to `after`. */
  private track(key: string, before: KvRecord | undefined, after: KvRecord | undefined): void {
    const replicas = this.replicasOf(key);
    if (!replicas.includes(this.env.id)) {
      if (after) this.leaving.add(key);
      else this.leaving.delete(key);
      return;
    }
    if (before) this.digests.remove(key, replicas, before.version);
    if (after) this.digests.add(key, replicas, after.version);
  }

  /** The next nodes after the preference list, clockwise: where hints go (up to N of them). */
  private fallbacks(key: string): NodeId[] {
    return this.ring.preferenceList(key, 2 * this.config.n).slice(this.config.n);
  }

  // -------------------------------------------------------- hinted handoff

  private scheduleHints(): void {
    this.env.setTimer(this.config.hintIntervalMs, () => {
      this.deliverHints();
      this.scheduleHints();
    });
  }

  /**
   * Tries to deliver every hint held. A hint whose owner left the cluster
   * goes to the key's current replicas instead. The hint is deleted once
   * every target stored it durably, and only if it did not change meanwhile.
   */
  private deliverHints(): void {
    const members = this.env.members();
    for (const storageKey of this.env.storage.keys(HINTS)) {
      const rest = storageKey.slice(HINTS.length);
      const slash = rest.indexOf('/');
      const owner = rest.slice(0, slash);
      const key = rest.slice(slash + 1);
      const hint = this.env.storage.get<KvRecord>(storageKey)!;
      const targets = members.includes(owner) ? [owner] : this.replicasOf(key);
      this.deliverAway(storageKey, key, hint, targets, 'hint', () => {
        this.env.emit({ type: 'kv.hint_delivered', key, owner, to: targets, version: hint.version });
      });
    }
  }

  /**
   * Sends a record this node holds for others (a hint, or a key it no longer
   * owns) to `targets`, and deletes it here once all of them acknowledged it
   * durably — unless it changed in the meantime.
   */
  private deliverAway(storageKey: string, key: string, record: KvRecord, targets: readonly NodeId[], cause: PutCause, onDelivered: () => void): void {
    if (this.delivering.has(storageKey) || targets.length === 0) return;
    this.delivering.add(storageKey);
    let waiting = targets.length;
    let failed = false;
    for (const target of targets) {
      this.call(target, { type: 'kv.replica_put', key, record, cause }, (reply) => {
        if (isError(reply)) failed = true;
        if (--waiting > 0) return;
        this.delivering.delete(storageKey);
        const now = this.env.storage.get<KvRecord>(storageKey);
        if (failed || !now || compareVersions(now.version, record.version) !== 0) return;
        if (storageKey === DATA + key) {
          // The ring may have given the key back to this node meanwhile: then it stays.
          if (this.replicasOf(key).includes(this.env.id)) return;
          this.track(key, now, undefined);
        }
        this.env.storage.delete(storageKey);
        onDelivered();
      });
    }
  }

  // ----------------------------------------------------------- anti-entropy

  private scheduleAntiEntropy(): void {
    const pause = this.config.antiEntropyIntervalMs * (0.5 + this.env.random());
    this.env.setTimer(pause, () => {
      this.antiEntropyRound();
      this.scheduleAntiEntropy();
    });
  }

  /**
   * Hands the keys this node no longer owns to their owners, then sends one
   * peer it shares keys with the digest of the keys both should hold.
   */
  private antiEntropyRound(): void {
    this.syncMembership();
    for (const key of this.leaving) {
      const record = this.record(key)!;
      const replicas = this.replicasOf(key);
      this.deliverAway(DATA + key, key, record, replicas, 'handoff', () => {
        this.env.emit({ type: 'kv.handed_off', key, to: replicas, version: record.version });
      });
    }
    // Both sides leave out the same young versions: the cut-off travels with the digest.
    const before = this.env.now() - this.config.antiEntropySettleMs;
    // Peers choose cut-offs by their own clocks: keep young entries one more settling time for those behind ours.
    this.digests.advance(before - this.config.antiEntropySettleMs);
    // A peer that shares keys with us; with none known (an empty node), anyone.
    const shared = this.digests.peers(this.env.id);
    const candidates = shared.length > 0 ? shared : [...this.env.peers()];
    if (candidates.length === 0) return;
    const peer = candidates[Math.floor(this.env.random() * candidates.length)]!;
    const buckets = this.digestFor(peer, before);
    this.env.rpc(peer, { type: 'kv.ae_digest', before, buckets }, this.config.replicaTimeoutMs, (reply) => {
      if (isError(reply)) return;
      this.reconcile(peer, before, reply.buckets as number[], reply.records as Array<[string, KvRecord]>);
    });
  }

  /** The digest of the keys shared with `peer` older than `before`: from the index, or counted afresh when the index cannot tell. */
  private digestFor(peer: NodeId, before: number): number[] {
    return this.digests.digestFor(peer, before) ?? digest(this.sharedWith(peer, before), this.config.digestBuckets);
  }

  /** The keys this node holds that `peer` should hold too, with their versions, if older than `before` (a pass over every key). */
  private sharedWith(peer: NodeId, before: number, buckets?: ReadonlySet<number>): KeyVersion[] {
    const out: KeyVersion[] = [];
    for (const [key, { version }] of this.held()) {
      if (version.wall >= before) continue;
      if (buckets && !buckets.has(bucketOf(key, this.config.digestBuckets))) continue;
      const replicas = this.replicasOf(key);
      if (replicas.includes(peer) && replicas.includes(this.env.id)) out.push({ key, version });
    }
    return out;
  }

  /** The peer's side of a round: compare digests, send back the keys of differing buckets. */
  private onDigest(src: NodeId, body: Body, respond: Respond): void {
    if (!Array.isArray(body.buckets) || typeof body.before !== 'number') {
      return respond(errorBody(ErrorCode.MalformedRequest, 'ae_digest needs buckets and before'));
    }
    // The index is built for the ring: rebuild both first if the membership changed.
    this.syncMembership();
    const differing = differingBuckets(this.digestFor(src, body.before), body.buckets as number[]);
    // Every bucket matched in the steady state: then no key is listed and no record travels.
    if (differing.length === 0) return respond({ type: 'kv.ae_digest_ok', buckets: [], records: [] });
    const { buckets, records } = this.answerWithin(this.sharedWith(src, body.before, new Set(differing)), differing);
    respond({ type: 'kv.ae_digest_ok', buckets, records });
  }

  /**
   * What one anti-entropy answer carries of the differing buckets: their
   * records, within antiEntropyReplyChars. `buckets` lists the buckets sent
   * whole (a bucket this node holds nothing of is sent whole, empty); only
   * for those can the initiator tell what this node lacks and push it.
   *
   * Usually everything fits. When it does not, the buckets are taken from a
   * random one on, while they fit; if that first one does not fit by itself,
   * the answer is a window of its records from a random record on (the
   * initiator still takes whatever is newer in it). Every bucket is first
   * now and then, so none waits forever behind the others. Records are
   * measured as they are taken, so building an answer costs about its size,
   * not the size of everything that differs.
   */
  private answerWithin(shared: KeyVersion[], differing: number[]): { buckets: number[]; records: Array<[string, KvRecord]> } {
    const budget = this.config.antiEntropyReplyChars;
    const byBucket = new Map<number, Array<[string, KvRecord]>>(differing.map((b) => [b, []]));
    for (const { key } of shared) byBucket.get(bucketOf(key, this.config.digestBuckets))!.push([key, this.record(key)!]);
    const size = ([key, record]: [string, KvRecord]) => recordChars(key, record);
    // The characters a list of records takes, counted only until past `limit`.
    const sizeUpTo = (list: Array<[string, KvRecord]>, limit: number) => {
      let chars = 0;
      for (const entry of list) if ((chars += size(entry)) > limit) break;
      return chars;
    };
    const all = [...byBucket.values()].flat();
    if (sizeUpTo(all, budget) <= budget) return { buckets: differing, records: all };

    const buckets: number[] = [];
    const records: Array<[string, KvRecord]> = [];
    let left = budget;
    const first = Math.floor(this.env.random() * differing.length);
    for (let i = 0; i < differing.length; i++) {
      const bucket = differing[(first + i) % differing.length]!;
      const list = byBucket.get(bucket)!;
      const chars = sizeUpTo(list, left);
      if (chars > left) {
        if (i === 0) return { buckets: [], records: this.window(list, budget, size) };
        break;
      }
      buckets.push(bucket);
      records.push(...list);
      left -= chars;
    }
    return { buckets, records };
  }

  /** Records of `list` from a random one on (wrapping), within `budget` characters: at least one. */
  private window<T>(list: T[], budget: number, size: (entry: T) => number): T[] {
    const out: T[] = [];
    const from = Math.floor(this.env.random() * list.length);
    let chars = 0;
    for (let i = 0; i < list.length; i++) {
      const entry = list[(from + i) % list.length]!;
      if ((chars += size(entry)) > budget && out.length > 0) break;
      out.push(entry);
    }
    return out;
  }

  /** The initiator's side: take what is newer there, push what is newer here. */
  private reconcile(peer: NodeId, before: number, buckets: number[], records: Array<[string, KvRecord]>): void {
    const differ = new Set(buckets);
    const theirs = new Map(records);
    let pulled = 0;
    let pushed = 0;
    for (const [key, record] of theirs) {
      const local = this.record(key);
      if (!isRecord(record) || (local && compareVersions(local.version, record.version) >= 0)) continue;
      if (!this.replicasOf(key).includes(this.env.id)) continue;
      pulled++;
      this.observeVersion(record.version);
      this.apply(key, record, 'anti_entropy', peer, () => {});
    }
    // Every bucket matched in the steady state: then there is nothing to push.
    // A peer far behind lacks every key: push at most one answer's worth a round (the next round pushes on).
    if (differ.size > 0) {
      let chars = 0;
      for (const { key } of this.sharedWith(peer, before, differ)) {
        const local = this.record(key)!;
        const there = theirs.get(key);
        if (there && compareVersions(there.version, local.version) >= 0) continue;
        if ((chars += recordChars(key, local)) > this.config.antiEntropyReplyChars && pushed > 0) break;
        pushed++;
        this.sendRecord(peer, key, local, 'anti_entropy');
      }
    }
    this.lastAntiEntropy = { peer, at: this.env.now(), pulled, pushed };
  }
}

/** The characters of JSON, escapes included, that a key and its record take in a message (anti-entropy's budget unit). */
function recordChars(key: string, record: KvRecord): number {
  return JSON.stringify(key).length + JSON.stringify(record).length + 4;
}

function badKey(key: unknown): string | undefined {
  return typeof key === 'string' && key.length > 0 ? undefined : 'key must be a non-empty string';
}

function isVersion(v: unknown): v is Version {
  const x = v as Version | null;
  return typeof x === 'object' && x !== null && Number.isFinite(x.wall) && Number.isFinite(x.logical) && typeof x.node === 'string';
}

function isRecord(record: unknown): record is KvRecord {
  const r = record as KvRecord | null;
  return typeof r === 'object' && r !== null && isVersion(r.version) && isVersion(r.seen) && 'value' in r;
}

/**
 * The "quorum not met" answer. Definite (code 11) only when the value can
 * have reached no replica; otherwise indefinite (code 0) — see the top of
 * the file.
 */
function quorumNotMet(replicas: readonly NodeId[], needed: number, got: number, definite: boolean, phase?: string): Body {
  const code = definite ? ErrorCode.TemporarilyUnavailable : ErrorCode.Timeout;
  const text = definite
    ? `quorum not met: ${got} of ${needed} replicas answered${phase ? ` in the ${phase}` : ''}; the operation did not take effect`
    : `quorum not met: ${got} of ${needed} replicas acknowledged; the write may still have been applied`;
  return errorBody(code, text, { error: 'quorum not met', needed, got, replicas, definite });
}

/** The replicated key-value store. */
export function kv(config: Partial<KvConfig> = {}): ProtocolFactory {
  return (env) => new Kv(env, config);
}
