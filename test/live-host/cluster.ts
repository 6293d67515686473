/**
 * In-process live clusters for the live host's tests: each node is a Fastify
 * app with a LiveHost, listening on 127.0.0.1 on a port the OS picks, running
 * Echo and a small Probe protocol that records what it receives.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { echo } from '../../src/protocols/echo.js';
import type { Envelope } from '../../src/protocols/envelope.js';
import type { Env, Protocol, StampedEvent } from '../../src/protocols/env.js';
import { registerRuntime, type LiveHost, type Peer, type RuntimeOptions } from '../../src/live/host.js';

/**
 * Records every `probe.ping` it gets (and answers it when it carries a
 * msg_id); keeps `probe.hold` requests unanswered so a test can answer them
 * late, or never.
 */
export class Probe implements Protocol {
  readonly name = 'probe';
  readonly handles = ['probe.ping', 'probe.hold', 'probe.crash'];
  readonly received: Envelope[] = [];
  readonly held: Envelope[] = [];
  constructor(readonly env: Env) {}

  receive(msg: Envelope): void {
    if (msg.body.type === 'probe.crash') throw new Error('probe asked to crash');
    if (msg.body.type === 'probe.hold') {
      this.held.push(msg);
      return;
    }
    this.received.push(msg);
    this.env.emit({ type: 'probe.got', from: msg.src, n: msg.body.n });
    if (typeof msg.body.msg_id === 'number') this.env.reply(msg, { type: 'probe.ping_ok', n: msg.body.n });
  }

  /** The `n` fields of the pings received from `src`, in arrival order. */
  from(src: string): unknown[] {
    return this.received.filter((m) => m.src === src).map((m) => m.body.n);
  }
}

export interface TestNode {
  id: string;
  app: FastifyInstance;
  host: LiveHost;
  probe: Probe;
  url: string;
  /** Every event the node emitted since it started. */
  events: StampedEvent[];
  /** Batches of envelopes (frames, or POSTs) this node has received from peers. */
  readonly batchesReceived: number;
}

export interface ClusterOptions {
  /** Extra roster entries (e.g. a node that is down). */
  extraPeers?: Peer[];
  runtime?: Partial<RuntimeOptions>;
  /** Where to listen (default: a port the OS picks). */
  listen?: { port: number };
}

/** Every node startCluster started and stopAllClusters has not stopped yet. */
const running: TestNode[] = [];

/** Stops every node startCluster started: call it in afterEach. */
export async function stopAllClusters(): Promise<void> {
  await Promise.all(running.splice(0).map((n) => n.app.close()));
}

/** Starts one app per id, sets the full roster on each, then starts the hosts. */
export async function startCluster(ids: string[], options: ClusterOptions = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (const id of ids) {
    const app = Fastify({ logger: false });
    let probe!: Probe;
    const host = registerRuntime(app, {
      ...options.runtime,
      id,
      protocols: [echo, (env) => (probe = new Probe(env))],
    });
    const node: TestNode = {
      id,
      app,
      host,
      probe,
      url: '',
      events: [],
      get batchesReceived() {
        return host.transport.stats().batchesReceived;
      },
    };
    node.url = await app.listen({ host: '127.0.0.1', port: options.listen?.port ?? 0 });
    nodes.push(node);
    running.push(node); // tracked at once: a later failure in this loop still gets it stopped
  }
  const roster: Peer[] = [...nodes.map((n) => ({ id: n.id, url: n.url })), ...(options.extraPeers ?? [])];
  for (const node of nodes) {
    node.host.setPeers(roster);
    node.host.subscribe((e) => node.events.push(e));
    node.host.start();
  }
  return nodes;
}

/** Polls `check` until it returns true; fails with `what` after the deadline. */
export async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback URL where nothing listens: a port the OS handed out, then released. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

export function eventsOf(node: TestNode, type: string): StampedEvent[] {
  return node.events.filter((e) => e.type === type);
}
