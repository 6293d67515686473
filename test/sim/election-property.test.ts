/**
 * Leader election under random partitions, 0–10 % loss and crashes, over
 * 200 seeds per algorithm. Safety phase: the faults run for 6 s. Liveness
 * phase: after healing, every node must follow the rightful leader (highest
 * id for bully, lowest for lowest) within electionBoundMs of the config. A
 * failing seed is printed with the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ELECTION_CONFIG } from '../../src/protocols/election.js';
import { electionBoundMs, runElection } from '../../src/sim/scenarios/election.js';
import { draw, failuresOver } from './property-options.js';

const SEEDS = 200;

describe.each(['bully', 'lowest'])('%s election under random partitions, loss and crashes', (algorithm) => {
  it(`agrees on the rightful leader within ${electionBoundMs(DEFAULT_ELECTION_CONFIG)} ms of healing, for ${SEEDS} seeds`, () => {
    let crashed = 0;
    const failures = failuresOver(SEEDS, (seed) => {
      const { options, replay } = draw('election', seed, {
        nodes: [3, 4],
        maxLoss: 0.1,
        durationMs: 6000,
        crashSpread: 2,
        downMs: 1500,
        extra: { flags: `--algorithm ${algorithm}`, options: { algorithm } },
      });
      const result = runElection(options);
      if ((result.messages.dropped as { crash: number }).crash > 0) crashed++;
      return { result, replay };
    });
    expect(failures, failures.join('\n')).toEqual([]);
    expect(crashed).toBeGreaterThan(SEEDS / 2); // the faults really happened
  });
});
