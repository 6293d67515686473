/**
 * SWIM (src/protocols/swim.ts) under random partitions, 5 % loss and crashes,
 * over 200 seeds. Safety phase, while the faults run for 10 s: every crash
 * that lasts the detection bound is declared dead by every member that
 * stayed up, within detectionBoundMs; no running node is declared dead
 * unless a partition cut it off. Liveness phase: after healing, every node
 * sees every node alive within the bound plus one sync interval. Half the
 * seeds join through one seed node (`--join`). A failing seed is printed
 * with the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SWIM_CONFIG } from '../../src/protocols/swim.js';
import { detectionBoundMs, runMembership } from '../../src/sim/scenarios/membership.js';
import { draw, failuresOver, metricValue } from './property-options.js';

const SEEDS = 200;

describe('SWIM under random partitions, 5 % loss and crashes', () => {
  it(`declares crashed nodes dead within ${detectionBoundMs(DEFAULT_SWIM_CONFIG, 5)} ms (5 nodes) and running ones never, for ${SEEDS} seeds`, () => {
    let measured = 0;
    const failures = failuresOver(SEEDS, (seed) => {
      const join = seed % 2 === 0;
      const { options, replay } = draw('membership', seed, {
        nodes: [4, 3],
        loss: 0.05,
        durationMs: 10_000,
        crashSpread: 2,
        downMs: 7000,
        ...(join && { extra: { flags: '--join', options: { join } } }),
      });
      const result = runMembership(options);
      measured += metricValue(result, 'crashes measured');
      return { result, replay };
    });
    expect(failures, failures.join('\n')).toEqual([]);
    expect(measured).toBeGreaterThan(SEEDS); // crashes really were detected and timed
  });
});
