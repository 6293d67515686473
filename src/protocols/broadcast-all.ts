/**
 * One-to-all broadcast: the simplest broadcast there is.
 *
 * The node a client asks (the *initiator*) sends the message to every other
 * node of the roster, itself, and waits for each to acknowledge. Each
 * recipient records the message once (event `broadcast_all.received`) and
 * acknowledges it. A node that stays silent is asked again (`attempts` in
 * all); after that it counts as *missing*. When every node has either
 * acknowledged or gone missing, the initiator answers its client with both
 * lists — so the user sees at once who got the message and who did not.
 *
 * This costs 2 × (N-1) messages per broadcast (each send and its
 * acknowledgement) and nobody repairs a miss later: a node that was down
 * never gets the message. broadcast.ts shows how to do better on both counts.
 *
 * Each message has a unique id, so a retransmission that reaches a node twice
 * is recorded once.
 */

import { ErrorCode, errorBody, isError, type Envelope, type NodeId } from './envelope.js';
import type { Env, Protocol, ProtocolFactory } from './env.js';

export interface BroadcastAllConfig {
  /** How long the initiator waits for each node's acknowledgement (ms). */
  ackTimeoutMs: number;
  /** Transmissions to one silent node before it counts as missing (1 = no retransmission). */
  attempts: number;
  /** Messages a node remembers (its log, which is also its duplicate filter). */
  logSize: number;
}

export const DEFAULT_BROADCAST_ALL_CONFIG: BroadcastAllConfig = {
  ackTimeoutMs: 500,
  attempts: 2,
  logSize: 1000,
};

/** A message a node received (or initiated). */
export interface BroadcastAllEntry {
  id: string;
  message: unknown;
  origin: NodeId;
  /** When this node recorded it (host clock, ms). */
  at: number;
}

export class BroadcastAll implements Protocol {
  readonly name = 'broadcast_all';
  readonly handles = ['broadcast_all.send', 'broadcast_all.msg', 'broadcast_all.read'] as const;

  private readonly seen = new Map<string, BroadcastAllEntry>();
  private sent = 0;

  constructor(
    private readonly env: Env,
    private readonly config: BroadcastAllConfig,
  ) {}

  receive(msg: Envelope): void {
    switch (msg.body.type) {
      case 'broadcast_all.send':
        return this.onSend(msg);
      case 'broadcast_all.msg':
        return this.onMessage(msg);
      case 'broadcast_all.read':
        this.env.reply(msg, { type: 'broadcast_all.read_ok', messages: this.log() });
        return;
    }
  }

  /** Messages this node holds, oldest first. */
  log(): BroadcastAllEntry[] {
    return [...this.seen.values()];
  }

  status(): { node: NodeId; log: BroadcastAllEntry[] } {
    return { node: this.env.id, log: this.log() };
  }

  private onSend(request: Envelope): void {
    const message = request.body.message;
    if (message === undefined) {
      this.env.reply(request, errorBody(ErrorCode.MalformedRequest, "broadcast_all.send needs a 'message'"));
      return;
    }
    this.sent += 1;
    const tag = Math.floor(this.env.random() * 36 ** 6).toString(36); // unique across restarts
    const id = `${this.env.id}:${this.sent}:${tag}`;
    const startedAt = this.env.now();
    this.record({ id, message, origin: this.env.id, at: startedAt });

    const peers = this.env.peers();
    const answered = new Map<NodeId, boolean>();
    const finish = () => {
      const acked = peers.filter((p) => answered.get(p) === true);
      const missing = peers.filter((p) => answered.get(p) === false);
      const rtt_ms = this.env.now() - startedAt;
      this.env.emit({ type: 'broadcast_all.done', id, acked, missing, rtt_ms });
      this.env.reply(request, { type: 'broadcast_all.send_ok', id, message, acked, missing, rtt_ms });
    };
    if (peers.length === 0) return finish();

    const ask = (peer: NodeId, attempt: number): void => {
      this.env.rpc(peer, { type: 'broadcast_all.msg', id, message, origin: this.env.id }, this.config.ackTimeoutMs, (reply) => {
        const silent = isError(reply) && reply.code === ErrorCode.Timeout;
        if (silent && attempt < this.config.attempts) return ask(peer, attempt + 1);
        answered.set(peer, reply.type === 'broadcast_all.msg_ok');
        if (answered.size === peers.length) finish();
      });
    };
    for (const peer of peers) ask(peer, 1);
  }

  private onMessage(msg: Envelope): void {
    const { id, message, origin } = msg.body;
    if (typeof id !== 'string' || message === undefined || typeof origin !== 'string') {
      this.env.reply(msg, errorBody(ErrorCode.MalformedRequest, 'broadcast_all.msg needs id, message and origin'));
      return;
    }
    if (!this.seen.has(id)) this.record({ id, message, origin, at: this.env.now() });
    this.env.reply(msg, { type: 'broadcast_all.msg_ok' });
  }

  private record(entry: BroadcastAllEntry): void {
    this.seen.set(entry.id, entry);
    while (this.seen.size > this.config.logSize) this.seen.delete(this.seen.keys().next().value as string);
    this.env.emit({ type: 'broadcast_all.received', id: entry.id, message: entry.message, origin: entry.origin });
  }
}

export function broadcastAll(config: Partial<BroadcastAllConfig> = {}): ProtocolFactory {
  const full = { ...DEFAULT_BROADCAST_ALL_CONFIG, ...config };
  return (env) => new BroadcastAll(env, full);
}
