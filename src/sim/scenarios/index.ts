/**
 * The scenarios `distlab sim` knows. A scenario is one file in this folder
 * exporting a `Scenario`; adding it here is the one line that makes
 * `distlab sim <name>` run it. Workload harnesses that take a protocol (like
 * `broadcastWorkloadScenario(protocolFactory)`) are wired the same way.
 */
import { gossipConvergenceScenario, gossipScenario } from './gossip.js';
import type { Scenario } from './types.js';

export const SCENARIOS: readonly Scenario[] = [gossipScenario, gossipConvergenceScenario];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
