/**
 * Structured broadcast: the message visits every node in turn and comes back
 * to the initiator with the list of nodes it visited.
 *
 * This is the workshop handout's "structured broadcast": each recipient adds
 * its id to the message and forwards it to the next node, until the
 * initiator gets back the visited list — proof that everyone saw it once.
 * That walk is exactly a ring round (ring.ts): roster order, one
 * acknowledged hand-over per hop, silent nodes retried then skipped and
 * reported, duplicates filtered by round id. So this protocol *is* the ring,
 * run under its own name so that it keeps its own log and events and can run
 * beside the ring on the same node:
 *
 *   client → `structured_broadcast.start {message}`
 *          ← `structured_broadcast.start_ok {message, round, visited, path, skipped, rtt_ms}`
 *   each node that records it emits `structured_broadcast.seen {token, origin, hop, round, from}`
 *   (the event field `token` holds the message text).
 *
 * Compared with one-to-all (broadcast-all.ts) it costs the same 2 × (N-1)
 * messages but takes N sequential hops instead of one parallel round: slower,
 * yet the initiator needs to talk to only one node, and the visited list
 * says in which order the message went round.
 */

import type { ProtocolFactory } from './env.js';
import { DEFAULT_RING_CONFIG, Ring, type RingConfig, type RingNames } from './ring.js';

export const STRUCTURED_BROADCAST_NAMES: RingNames = {
  protocol: 'structured_broadcast',
  seenEvent: 'structured_broadcast.seen',
  textField: 'message',
  defaultText: 'message',
};

/** Same knobs as the ring: per-hop timeout and attempts, overall bound, log size. */
export const DEFAULT_STRUCTURED_BROADCAST_CONFIG: RingConfig = DEFAULT_RING_CONFIG;

export function structuredBroadcast(config: Partial<RingConfig> = {}): ProtocolFactory {
  const full = { ...DEFAULT_STRUCTURED_BROADCAST_CONFIG, ...config };
  return (env) => new Ring(env, full, STRUCTURED_BROADCAST_NAMES);
}
