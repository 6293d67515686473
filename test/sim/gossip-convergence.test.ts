import { describe, expect, it } from 'vitest';
import { expectVerdicts } from './property-options.js';
import { pittelEstimate, runGossipConvergence } from '../../src/sim/scenarios/gossip.js';
import type { ScenarioResult } from '../../src/sim/scenarios/types.js';

const metric = (r: ScenarioResult, name: string) => r.metrics.find((m) => m.name === name)?.value;

describe('gossip-convergence scenario', () => {
  it('informs every node, no faster than doubling allows, and reports the rounds against the estimate', () => {
    const n = 1000;
    for (const seed of [1, 2, 3]) {
      const r = runGossipConvergence({ seed, nodes: n });
      const rounds = metric(r, 'rounds until all nodes know') as number;
      expect(metric(r, 'nodes informed')).toBe(`${n}/${n}`);
      expect(r.verdicts[0]?.ok).toBe(true);
      // With fanout 1 the informed set at most doubles each round.
      expect(rounds).toBeGreaterThanOrEqual(Math.ceil(Math.log2(n)));
      expect(metric(r, 'estimate log2 N + ln N')).toBe(pittelEstimate(n));
      expect(metric(r, 'ratio rounds / estimate')).toBeCloseTo(rounds / pittelEstimate(n), 10);
      // Only informed nodes push, one message each per round: fewer than n per round.
      expect(metric(r, 'messages (server-to-server)') as number).toBeLessThan(rounds * n);
    }
  });

  it('replays a seed exactly', () => {
    expect(runGossipConvergence({ seed: 8, nodes: 300 }).traceHash).toBe(runGossipConvergence({ seed: 8, nodes: 300 }).traceHash);
  });

  it('fails its verdict when the update cannot spread', () => {
    const r = runGossipConvergence({ seed: 1, nodes: 50, network: { loss: 1 } });
    expectVerdicts(r, false);
    expect(metric(r, 'rounds until all nodes know')).toBeNull();
  });
});
