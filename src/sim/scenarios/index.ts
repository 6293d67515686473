/**
 * The scenarios `distlab sim` knows. A scenario is one file in this folder
 * exporting a `Scenario`; listing it in SCENARIOS is the one line that makes
 * `distlab sim <name>` run it. Workload harnesses that take a protocol are
 * listed the same way, applied to the protocol's factory:
 * `broadcastWorkloadScenario(broadcast())`.
 */
import { broadcast } from '../../protocols/broadcast.js';
import { broadcastWorkloadScenario } from './broadcast-workload.js';
import { gossipConvergenceScenario, gossipScenario } from './gossip.js';
import { kvScenario } from './kv.js';
import type { Scenario } from './types.js';

export { broadcastWorkloadScenario };

export const SCENARIOS: readonly Scenario[] = [
  gossipScenario,
  gossipConvergenceScenario,
  broadcastWorkloadScenario(broadcast()),
  kvScenario,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
