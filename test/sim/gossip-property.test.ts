/**
 * Gossip under random faults, over many seeds. Each seed draws a cluster
 * size, a loss rate, a partition schedule and a crash rate; the fault phase
 * runs with clients bumping versions, then everything heals. The liveness
 * bound: all running nodes hold the same version map within 20 gossip
 * intervals of healing; safety: no acknowledged version is missing and no
 * version was invented. Writes take 30 ms to become durable, so a crash
 * often lands between a write and its durability. A failing seed is printed with the command that
 * replays it.
 */
import { describe, expect, it } from 'vitest';
import { parsePartition } from '../../src/sim/faults.js';
import { Rng } from '../../src/sim/rng.js';
import { GOSSIP_DEFAULTS, runGossip } from '../../src/sim/scenarios/gossip.js';
import type { ScenarioOptions } from '../../src/sim/scenarios/types.js';

const SEEDS = 200;

function optionsFor(seed: number): { options: ScenarioOptions; replay: string } {
  const r = Rng.stream(seed, 'property-test');
  const nodes = 3 + r.int(6);
  const loss = Math.round(r.float() * 20) / 100;
  const periodS = 1 + r.int(3);
  const crashEveryS = 2 + r.int(3);
  const fanout = 1 + r.int(2);
  const options: ScenarioOptions = {
    seed,
    nodes,
    durationMs: 8000,
    intervalMs: 200,
    fanout,
    rate: 4,
    diskDelayMs: 30,
    network: { latency: { kind: 'uniform', min: 5, max: 80 }, loss, duplicate: 0.02 },
    partitions: [parsePartition(`random:${periodS}s`)],
    crashes: { everyMs: crashEveryS * 1000, downMs: 1000 },
  };
  const replay = `distlab sim gossip --seed ${seed} --nodes ${nodes} --duration 8s --interval 200ms --fanout ${fanout} --rate 4 --latency-dist uniform:5-80 --loss ${loss} --dup 0.02 --partition random:${periodS}s --crash ${crashEveryS}s:1s --disk-delay 30ms`;
  return { options, replay };
}

describe('gossip under random partitions, loss and crashes', () => {
  it(`converges after healing within ${GOSSIP_DEFAULTS.healRounds} intervals, losing and inventing nothing, for ${SEEDS} seeds`, () => {
    const failures: string[] = [];
    let faultsSeen = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { options, replay } = optionsFor(seed);
      const result = runGossip(options);
      const dropped = result.messages.dropped as { partition: number; crash: number };
      if (dropped.partition > 0 && dropped.crash > 0) faultsSeen++;
      const failed = result.verdicts.filter((v) => !v.ok);
      if (failed.length > 0) failures.push(`seed ${seed}: ${failed.map((v) => `${v.name} (${v.detail})`).join('; ')}\n  replay: ${replay}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    // the faults really happened: most runs saw partition and crash drops
    expect(faultsSeen).toBeGreaterThan(SEEDS / 2);
  });
});
