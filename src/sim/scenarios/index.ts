/**
 * The scenarios `distlab sim` knows. A scenario is one file in this folder
 * exporting a `Scenario`; listing it in SCENARIOS is the one line that makes
 * `distlab sim <name>` run it. Workload harnesses that take a protocol are
 * listed the same way, applied to the protocol's factory:
 * `broadcastWorkloadScenario(broadcast())`.
 */
import { broadcast } from '../../protocols/broadcast.js';
import { broadcastAllScenario } from './broadcast-all.js';
import { broadcastStructuredScenario } from './broadcast-structured.js';
import { broadcastWorkloadScenario } from './broadcast-workload.js';
import { electionScenario } from './election.js';
import { gossipConvergenceScenario, gossipScenario } from './gossip.js';
import { membershipScenario } from './membership.js';
import { registryScenario } from './registry.js';
import { ringScenario } from './ring.js';
import { kvScenario } from './kv.js';
import type { Scenario } from './types.js';

export { broadcastWorkloadScenario };

export const SCENARIOS: readonly Scenario[] = [
  gossipScenario,
  gossipConvergenceScenario,
  broadcastWorkloadScenario(broadcast()),
  ringScenario,
  broadcastAllScenario,
  broadcastStructuredScenario,
  electionScenario,
  membershipScenario,
  registryScenario,
  kvScenario,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
