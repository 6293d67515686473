/**
 * The whole world as a protocol sees it.
 *
 * A distlab protocol is a plain object that reacts to three things: start,
 * an incoming message, and a timer it set itself. Everything it can *do* goes
 * through the environment handed to it — send a message, set a timer, read
 * the clock, draw a random number, touch storage, emit an event. It never
 * imports `node:*`, never reads the system clock or an unseeded random
 * source, never calls `setTimeout` or `fetch`.
 *
 * That single rule is what lets the same protocol code run in a real node
 * (src/live: HTTP, real clock, disk) and in the deterministic simulator
 * (src/sim: virtual clock, seeded randomness, a modelled network), and be
 * driven message by message in a unit test.
 */

import type { Body, Envelope, NodeId } from './envelope.js';

/** Opaque handle of a timer, for cancelling it. */
export type TimerId = number;

/**
 * Key-value storage owned by one node. Writes are applied at once for reads
 * on the same node; `onDurable` is called when the write has reached stable
 * storage (fsync on a live node; after a modelled disk delay in the
 * simulator). A protocol that promises durability acknowledges only from
 * inside `onDurable`. After a crash, a node keeps exactly the writes whose
 * `onDurable` had fired (and possibly some later ones). Writes to one key
 * become durable in the order they were made.
 */
export interface Storage {
  get<T = unknown>(key: string): T | undefined;
  put(key: string, value: unknown, onDurable?: () => void): void;
  delete(key: string, onDurable?: () => void): void;
  /** Keys in ascending order, optionally only those starting with `prefix`. */
  keys(prefix?: string): string[];
  /** The same keys with their values: [key, value] pairs in ascending key order. */
  entries<T = unknown>(prefix?: string): Array<[string, T]>;
}

/**
 * Something that happened inside a protocol, for the event stream that feeds
 * logs, watchers, the dashboard and the checkers. `type` is dotted,
 * `area.what` (e.g. `token.seen`, `leader.changed`, `member.dead`); the
 * host stamps the node id, time and a sequence number, so `node`, `time`
 * and `seq` are reserved: name the subject of an event `member`, `leader`,
 * `skipped`, ... instead.
 */
export interface ProtocolEvent {
  type: string;
  [field: string]: unknown;
}

/** An event as it leaves a node: stamped by the host. */
export interface StampedEvent extends ProtocolEvent {
  node: NodeId;
  /** Milliseconds on the host's clock (virtual in the simulator). */
  time: number;
  /** Per-node sequence number, starting at 1 (a stream filtered by type, or a live node with nobody listening to a type, shows gaps). */
  seq: number;
}

/**
 * What a host (live node, simulator, unit test) provides to a node runtime.
 * It is deliberately small: everything else is built on top of it in
 * protocols/runtime.ts, once, for every host.
 */
export interface HostEnv {
  readonly id: NodeId;
  /**
   * Every node of the cluster (including this one), in roster order. Return
   * the same array object for as long as membership is unchanged: the
   * runtime caches what it derives from it.
   */
  members(): readonly NodeId[];
  /** Milliseconds; monotone non-decreasing. */
  now(): number;
  /** Uniform in [0, 1). Seeded in the simulator. */
  random(): number;
  /** Hands an envelope to the network. Never throws; delivery is not guaranteed. */
  transmit(msg: Envelope): void;
  setTimer(delayMs: number, fn: () => void): TimerId;
  clearTimer(timer: TimerId): void;
  storage: Storage;
  emit(event: ProtocolEvent): void;
}

/** Called with the reply, or with an `error` body (code 0, indefinite) on timeout. */
export type ReplyHandler = (reply: Body, from: NodeId) => void;

/** The environment one protocol is handed by the runtime. */
export interface Env {
  readonly id: NodeId;
  /** Every node of the cluster, including this one, in roster order. */
  members(): readonly NodeId[];
  /** Every other node, in roster order. */
  peers(): readonly NodeId[];
  now(): number;
  random(): number;
  /** Fire-and-forget. */
  send(dest: NodeId, body: Body): void;
  /**
   * Request/response: gives the body a fresh `msg_id`, sends it, and calls
   * `onReply` exactly once — with the reply, or with a timeout error after
   * `timeoutMs`. Returns the msg_id.
   */
  rpc(dest: NodeId, body: Body, timeoutMs: number, onReply: ReplyHandler): number;
  /** Answers a request: sends `body` to `request.src` with `in_reply_to` set. */
  reply(request: Envelope, body: Body): void;
  setTimer(delayMs: number, fn: () => void): TimerId;
  clearTimer(timer: TimerId): void;
  /** This protocol's own slice of the node's storage. */
  storage: Storage;
  emit(event: ProtocolEvent): void;
}

/**
 * A protocol: a state machine that reacts to messages and its own timers.
 * `handles` lists the body types the runtime routes to it.
 */
export interface Protocol {
  readonly name: string;
  readonly handles: readonly string[];
  /** Called once when the node starts, and again after a restart (fresh object, same storage). */
  start?(): void;
  receive(msg: Envelope): void;
  /** Called when the node shuts down cleanly. Timers are cancelled by the runtime. */
  stop?(): void;
}

/** Builds a protocol for one node. Protocol modules export one of these. */
export type ProtocolFactory = (env: Env) => Protocol;
