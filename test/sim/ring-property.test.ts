/**
 * Ring (and the structured broadcast, the same walk) under random
 * partitions, 0–10 % loss and crashes, over 200 seeds. Safety phase, while
 * the faults run for 8 s: every node on a completed round's path logged it,
 * none twice in one life, path + skipped = the roster, and every skip was of
 * a node that was down or cut off (or, with loss, lost every attempt).
 * Liveness phase: after healing, a round from every node comes back within
 * the round timeout. A failing seed is printed with the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { runRingRounds } from '../../src/sim/scenarios/ring.js';
import { ring, RING_NAMES } from '../../src/protocols/ring.js';
import { draw, failuresOver, metricValue } from './property-options.js';

const SEEDS = 200;

describe('ring under random partitions, loss and crashes', () => {
  it(`logs every completed round once per node and closes over the survivors, for ${SEEDS} seeds`, () => {
    let skipped = 0;
    let completed = 0;
    const failures = failuresOver(SEEDS, (seed) => {
      const { options, replay } = draw('ring', seed, { nodes: [3, 5], maxLoss: 0.1, durationMs: 8000, crashSpread: 2, downMs: 1500 });
      const result = runRingRounds('ring', RING_NAMES, ring, { ...options, rate: 2 });
      const skips = String(result.metrics.find((m) => m.name.startsWith('skips'))?.value ?? '0/0/0').split('/').map(Number);
      skipped += (skips[0] ?? 0) + (skips[1] ?? 0);
      completed += metricValue(result, 'rounds completed');
      return { result, replay: `${replay} --rate 2` };
    });
    expect(failures, failures.join('\n')).toEqual([]);
    // the faults really happened: rounds went round crashed and cut-off nodes
    expect(skipped).toBeGreaterThan(SEEDS);
    expect(completed).toBeGreaterThan(SEEDS * 5);
  });
});
