/**
 * Scenario `broadcast-structured` (src/protocols/broadcast-structured.ts):
 * clients ask random running nodes to send a message round the cluster,
 * collecting the visited list back at the initiator, while nodes crash and
 * partitions come and go. The structured broadcast is the ring walk under
 * another name, so the ring's harness (./ring.ts) runs it and its verdicts
 * are the delivery verdicts: every node a message visited recorded it
 * exactly once, every node it skipped was down or cut off, and after healing
 * a message from every node reaches every node.
 */
import { structuredBroadcast, STRUCTURED_BROADCAST_NAMES } from '../../protocols/broadcast-structured.js';
import { RING_DEFAULTS, runRingRounds } from './ring.js';
import type { Scenario } from './types.js';

export const broadcastStructuredScenario: Scenario = {
  name: 'broadcast-structured',
  summary: 'structured broadcast (a message visits every node, the visited list returns) under crashes and faults: delivery verdicts',
  defaultNodes: RING_DEFAULTS.nodes,
  defaultDurationMs: RING_DEFAULTS.durationMs,
  run: (options) => runRingRounds('broadcast-structured', STRUCTURED_BROADCAST_NAMES, structuredBroadcast, options),
};
