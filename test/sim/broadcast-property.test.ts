/**
 * The fault-tolerant broadcast (src/protocols/broadcast.ts) under random
 * partitions, 0–10 % loss and crashes, over 200 seeds, through the broadcast
 * workload harness on small clusters. Safety phase: clients send 20 values a
 * second for 5 s while the faults run. Liveness phase: after healing, every
 * acknowledged value must be on every node within the workload's heal bound,
 * and no node may hold a value no client sent. A failing seed is printed
 * with the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { broadcast } from '../../src/protocols/broadcast.js';
import { BROADCAST_WORKLOAD_DEFAULTS, runBroadcastWorkload } from '../../src/sim/scenarios/broadcast-workload.js';
import { draw, failuresOver } from './property-options.js';

const SEEDS = 200;

describe('fault-tolerant broadcast under random partitions, loss and crashes', () => {
  it(`holds every acknowledged value on every node within ${BROADCAST_WORKLOAD_DEFAULTS.healBoundMs} ms of healing, inventing none, for ${SEEDS} seeds`, () => {
    let crashed = 0;
    const protocol = broadcast();
    const failures = failuresOver(SEEDS, (seed) => {
      const { options, replay } = draw('broadcast-workload', seed, { nodes: [3, 4], maxLoss: 0.1, durationMs: 5000, crashSpread: 2, downMs: 1000 });
      const result = runBroadcastWorkload(protocol, { ...options, rate: 20, diskDelayMs: 20 });
      if ((result.messages.dropped as { crash: number }).crash > 0) crashed++;
      return { result, replay: `${replay} --rate 20 --disk-delay 20ms` };
    });
    expect(failures, failures.join('\n')).toEqual([]);
    expect(crashed).toBeGreaterThan(SEEDS / 2); // the faults really happened
  });
});
