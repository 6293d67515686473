/**
 * The live host: runs a node's protocols in a real process.
 *
 * `LiveHost` is the HostEnv of a live node — the real clock, `Math.random`,
 * `setTimeout` timers, storage in memory, the HTTP transport with its fault
 * injection, and the event hub. It owns the node's NodeRuntime.
 *
 * `registerRuntime` plugs a LiveHost into a Fastify app: `POST /envelope`
 * (envelopes from other nodes), `GET /events` (the event stream as SSE) and
 * `/admin/faults`. The app's close stops the host.
 *
 * Client operations reach the protocols the way they do in the simulator: as
 * envelopes from a client id that is not a member. `host.request(body)` does
 * that for HTTP adapters — it delivers the body from a fresh client id and
 * resolves with whatever the node answers to that id.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { WebSocketServer } from 'ws';
import { ErrorCode, errorBody, type Body, type Envelope, type NodeId } from '../protocols/envelope.js';
import type { HostEnv, ProtocolEvent, ProtocolFactory, StampedEvent, Storage, TimerId } from '../protocols/env.js';
import { MemoryStorage, NodeRuntime } from '../protocols/runtime.js';
import { EventHub, registerEventStream, type EventListener, type EventStreamOptions } from './events.js';
import { FaultInjector, registerFaultRoutes, type FaultPatch } from './faults.js';
import { httpErrorHandler, strictValidator } from './strict-body.js';
import { MAX_FRAME_BYTES, PeerTransport, type Peer, type TransportConfig } from './transport.js';

export type { Peer } from './transport.js';

export interface LiveHostOptions {
  id: NodeId;
  protocols: readonly ProtocolFactory[];
  /** The roster, this node included, in roster order. May also be set later with `setPeers`. */
  peers?: readonly Peer[];
  transport?: Partial<TransportConfig>;
  /** Faults in force from the start. */
  faults?: FaultPatch;
  /** The node's storage (e.g. a SqliteStorage on disk). Default: in memory, "durable" one event-loop turn later. */
  storage?: Storage;
}

interface WaitingClient {
  resolve(reply: Body): void;
  timer: NodeJS.Timeout;
}

export class LiveHost implements HostEnv {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly events = new EventHub();
  readonly faults: FaultInjector;
  readonly transport: PeerTransport;
  readonly runtime: NodeRuntime;
  private roster: Peer[] = [];
  private memberIds: NodeId[];
  private state: 'new' | 'running' | 'stopped' = 'new';
  private seq = 0;
  private lastNow = 0;
  private nextTimer = 1;
  /** Armed timers; a zero delay runs on the next turn (setImmediate), not after setTimeout's 1 ms floor. */
  private readonly timers = new Map<TimerId, NodeJS.Timeout | NodeJS.Immediate>();
  private nextClient = 1;
  private readonly clients = new Map<NodeId, WaitingClient>();

  constructor(options: LiveHostOptions) {
    this.id = options.id;
    this.memberIds = [options.id];
    this.storage = options.storage ? this.guardedStorage(options.storage) : new MemoryStorage((fn) => setImmediate(fn));
    this.faults = new FaultInjector(() => this.random(), options.faults, (rules) => this.emit({ type: 'faults.changed', rules }));
    this.transport = new PeerTransport(
      this.id,
      this.faults,
      {
        deliver: (msg) => this.guard('receive', () => this.runtime.deliver(msg)),
        emit: (event) => this.emit(event),
        wants: (type) => this.events.wants(type),
      },
      options.transport,
    );
    if (options.peers) this.setPeers(options.peers);
    this.runtime = new NodeRuntime(this, options.protocols);
  }

  /** Sets the roster (this node included, in roster order). */
  setPeers(peers: readonly Peer[]): void {
    const ids = peers.map((p) => p.id);
    if (new Set(ids).size !== ids.length) throw new Error(`duplicate node id in roster: ${ids.join(', ')}`);
    if (peers.length > 0 && !ids.includes(this.id)) throw new Error(`roster does not include this node (${this.id})`);
    this.roster = peers.map((p) => ({ ...p }));
    this.memberIds = peers.length > 0 ? ids : [this.id];
    this.transport.setPeers(this.roster);
  }

  /** The roster as given, with URLs. */
  peers(): readonly Peer[] {
    return this.roster;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Starts the protocols. A LiveHost runs once: start, then stop. */
  start(): void {
    if (this.state !== 'new') throw new Error(`node ${this.id} has already been ${this.state === 'running' ? 'started' : 'stopped'}`);
    this.state = 'running';
    this.runtime.start();
  }

  /** Stops the protocols, cancels timers, answers waiting clients, ends event streams and closes connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.guard('stop', () => this.runtime.stop());
    for (const timer of this.timers.values()) cancel(timer);
    this.timers.clear();
    for (const [client, waiting] of this.clients) {
      this.clients.delete(client);
      clearTimeout(waiting.timer);
      waiting.resolve(errorBody(ErrorCode.Crash, `node ${this.id} stopped while handling the request`));
    }
    this.events.close();
    await this.transport.close();
  }

  /**
   * A client operation: delivers `body` to this node's protocols from a fresh
   * client id and resolves with the reply addressed to that id — or with an
   * indefinite timeout error (code 0) after `timeoutMs`.
   */
  request(body: Body, timeoutMs: number): Promise<Body> {
    if (this.state !== 'running') {
      return Promise.resolve(errorBody(ErrorCode.TemporarilyUnavailable, `node ${this.id} is not running`));
    }
    const client = this.freshClientId();
    const msgId = typeof body.msg_id === 'number' ? body.msg_id : 1;
    return new Promise<Body>((resolve) => {
      const timer = setTimeout(() => {
        this.clients.delete(client);
        resolve(errorBody(ErrorCode.Timeout, `no reply from node ${this.id} within ${timeoutMs} ms`, { in_reply_to: msgId }));
      }, timeoutMs);
      timer.unref();
      this.clients.set(client, {
        timer,
        resolve: (reply) => {
          this.clients.delete(client);
          clearTimeout(timer);
          resolve(reply);
        },
      });
      this.guard('request', () => this.runtime.deliver({ src: client, dest: this.id, body: { ...body, msg_id: msgId } }));
    });
  }

  /** A batch of envelopes that arrived from a peer (already validated). */
  receive(msgs: readonly Envelope[]): void {
    if (this.state === 'running') this.transport.receive(msgs);
  }

  /**
   * Listens to this node's events (only types starting with one of `types`,
   * if given); `onEnd` runs when the node stops. Returns the unsubscribe function.
   */
  subscribe(listener: EventListener, types?: readonly string[], onEnd?: () => void): () => void {
    return this.events.subscribe(listener, types, onEnd);
  }

  // --- HostEnv -------------------------------------------------------------

  members(): readonly NodeId[] {
    return this.memberIds;
  }

  now(): number {
    this.lastNow = Math.max(this.lastNow, Date.now());
    return this.lastNow;
  }

  random(): number {
    return Math.random();
  }

  transmit(msg: Envelope): void {
    const waiting = this.clients.get(msg.dest);
    if (waiting) waiting.resolve(msg.body);
    else this.transport.send(msg);
  }

  setTimer(delayMs: number, fn: () => void): TimerId {
    const id = this.nextTimer++;
    if (this.state === 'stopped') return id; // a stopped node runs nothing more
    const run = () => {
      this.timers.delete(id);
      this.guard('timer', fn);
    };
    // Timers never keep a node alive. Zero-delay ones run on the next turn;
    // they stay ref'd because an unref'd immediate lets the event loop block
    // in poll until unrelated I/O wakes it, delaying them by up to a timer's
    // whole period.
    const timer = delayMs > 0 ? setTimeout(run, delayMs).unref() : setImmediate(run);
    this.timers.set(id, timer);
    return id;
  }

  clearTimer(id: TimerId): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    cancel(timer);
    this.timers.delete(id);
  }

  /** Stamps and publishes an event — only if somebody listens to its type (its seq is used either way). */
  emit(event: ProtocolEvent): void {
    const seq = ++this.seq;
    if (!this.events.wants(event.type)) return;
    const stamped: StampedEvent = { ...event, node: this.id, time: this.now(), seq };
    this.events.publish(stamped);
  }

  // -------------------------------------------------------------------------

  /** `onDurable` callbacks are protocol code: run them through the guard, like timers. */
  private guardedStorage(inner: Storage): Storage {
    const guarded = (fn?: () => void) => fn && (() => this.guard('storage', fn));
    return {
      get: <T>(key: string) => inner.get<T>(key),
      put: (key, value, onDurable) => inner.put(key, value, guarded(onDurable)),
      delete: (key, onDurable) => inner.delete(key, guarded(onDurable)),
      keys: (prefix) => inner.keys(prefix),
      entries: (prefix) => inner.entries(prefix),
    };
  }

  private freshClientId(): NodeId {
    for (;;) {
      const id = `client-${this.nextClient++}`;
      if (!this.memberIds.includes(id)) return id;
    }
  }

  /**
   * Runs protocol code. A protocol that throws is a bug, but one bad message
   * or timer must not take the whole node down: the error becomes a
   * `protocol.error` event.
   */
  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.emit({ type: 'protocol.error', where, error: e.message, stack: e.stack });
    }
  }
}

function cancel(timer: NodeJS.Timeout | NodeJS.Immediate): void {
  if ('refresh' in timer) clearTimeout(timer);
  else clearImmediate(timer as NodeJS.Immediate);
}

const EnvelopeSchema = Type.Object(
  {
    src: Type.String({ minLength: 1, maxLength: 200 }),
    dest: Type.String({ minLength: 1, maxLength: 200 }),
    body: Type.Object(
      {
        type: Type.String({ minLength: 1, maxLength: 200 }),
        msg_id: Type.Optional(Type.Integer({ minimum: 0 })),
        in_reply_to: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false },
);
const EnvelopeBatch = Type.Array(EnvelopeSchema, { minItems: 1, maxItems: 100_000 });

export interface RuntimeOptions extends LiveHostOptions {
  /** Options of the `GET /events` stream. */
  events?: EventStreamOptions;
  /** Largest `POST /envelope` body accepted, in bytes. */
  envelopeBodyLimit?: number;
}

const DEFAULT_ENVELOPE_BODY_LIMIT = MAX_FRAME_BYTES;

/**
 * Adds a node's runtime to a Fastify app and returns its LiveHost (not yet
 * started: call `host.start()` once the roster is set, usually after
 * `listen`). Routes: `/envelope` (a WebSocket for peers' frames, see
 * transport.ts; a plain `POST` of one envelope or an array also works, for
 * curl and tests), `GET /events`, `GET|POST|DELETE /admin/faults`. Closing
 * the app stops the host and cuts every peer's socket.
 */
export function registerRuntime(app: FastifyInstance, options: RuntimeOptions): LiveHost {
  const host = new LiveHost(options);
  // A failure of the host's own routes becomes a host.error event: the node's
  // logs, the watchers and the tests all read the event stream.
  const errorHandler = httpErrorHandler((err, request) =>
    host.emit({ type: 'host.error', route: `${request.method} ${request.url}`, error: err.message, stack: err.stack }),
  );

  app.route<{ Body: Envelope[] }>({
    method: 'POST',
    url: '/envelope',
    // Node-to-node traffic can run at thousands of requests a second; its
    // record is the msg.* event stream, not one log line per POST.
    logLevel: 'warn',
    bodyLimit: options.envelopeBodyLimit ?? DEFAULT_ENVELOPE_BODY_LIMIT,
    schema: { body: EnvelopeBatch },
    validatorCompiler: strictValidator,
    errorHandler,
    // One envelope or an array of them: a single one is wrapped before validation.
    preValidation: async (request) => {
      request.body = asBatch(request.body) as Envelope[];
    },
    handler: async (request, reply) => {
      const msgs = request.body;
      const misaddressed = misaddressedEnvelope(msgs, host.id);
      if (misaddressed) return reply.code(400).send({ error: 'Bad Request', detail: misaddressed });
      setImmediate(() => host.receive(msgs));
      return reply.code(202).send({ accepted: msgs.length });
    },
  });

  acceptPeerSockets(app, host, options.envelopeBodyLimit ?? DEFAULT_ENVELOPE_BODY_LIMIT);
  registerEventStream(app, host.events, errorHandler, options.events);
  registerFaultRoutes(app, host.faults, errorHandler);
  app.addHook('preClose', async () => {
    await host.stop();
  });
  return host;
}

const checkBatch = TypeCompiler.Compile(EnvelopeBatch);

/** One envelope or an array of them, as an array (anything else is left for validation to refuse). */
function asBatch(body: unknown): unknown {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? [body] : body;
}

/** Why a batch from a peer (a POST or a frame) cannot be taken: an envelope for another node. */
function misaddressedEnvelope(msgs: readonly { dest: string }[], self: NodeId): string | undefined {
  const wrong = msgs.findIndex((m) => m.dest !== self);
  return wrong < 0 ? undefined : `envelope ${wrong} is addressed to ${msgs[wrong]!.dest}, but this is node ${self}`;
}

/**
 * The receiving end of the peer transport: WebSocket upgrades of
 * `/envelope`. Every text frame must be a JSON array of envelopes (or one
 * envelope) addressed to this node; a frame that is not is dropped whole and
 * reported as a `host.error` event — the socket stays open, so one bad frame
 * loses nothing else. `ws` is loaded on the first upgrade.
 */
function acceptPeerSockets(app: FastifyInstance, host: LiveHost, maxPayload: number): void {
  let server: Promise<WebSocketServer> | undefined;
  const load = () =>
    (server ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false })));
  const reject = (socket: Duplex, status: number) => {
    socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  const frameError = (error: string) => host.emit({ type: 'host.error', route: 'WS /envelope', error });

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((request.url ?? '').split('?')[0] !== '/envelope') return reject(socket, 404);
    if (!host.isRunning) return reject(socket, 503);
    void load().then((wss) => {
      if (socket.destroyed) return;
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        ws.on('message', (data, isBinary) => {
          let msgs: unknown;
          try {
            msgs = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
          } catch {
            return frameError('a frame that is not JSON');
          }
          msgs = asBatch(msgs);
          if (!checkBatch.Check(msgs)) {
            const first = checkBatch.Errors(msgs).First();
            return frameError(`a frame that is not an array of envelopes: ${first ? `${first.path || '(root)'}: ${first.message}` : 'invalid'}`);
          }
          const misaddressed = misaddressedEnvelope(msgs, host.id);
          if (misaddressed) return frameError(`a frame with ${misaddressed}`);
          host.receive(msgs as Envelope[]);
        });
      });
    });
  });
  app.addHook('preClose', async () => {
    if (!server) return;
    const wss = await server;
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
}
