/**
 * The replicated key-value store in the real simulator, over many seeds.
 * Each seed draws a small cluster, a few clients and keys, a latency range,
 * a loss rate, a partition schedule (random halves or an isolated node), a
 * crash rate and a disk delay; the kv scenario runs its clients through the
 * fault phase, heals everything, and reads every key from every node.
 *
 * - quorum mode: no acknowledged write lost (the lost-writes checker over
 *   the history, final reads included) and every replica of every key agrees
 *   after healing;
 * - linearizable mode (ABD): the history is linearizable, and again no
 *   acknowledged write is lost and the replicas converge.
 *
 * A failing seed is printed with the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { parsePartition } from '../../src/sim/faults.js';
import { Rng } from '../../src/sim/rng.js';
import { kvReplayCommand, runKv } from '../../src/sim/scenarios/kv.js';
import type { ScenarioOptions, ScenarioResult } from '../../src/sim/scenarios/types.js';

const SEEDS = 200;

function optionsFor(seed: number, consistency: 'quorum' | 'linearizable'): ScenarioOptions {
  const r = Rng.stream(seed, `kv-property:${consistency}`);
  const periodMs = 500 + 250 * r.int(7);
  const crashEveryMs = 700 + 100 * r.int(10);
  return {
    seed,
    consistency,
    nodes: 3 + r.int(3),
    clients: 2 + r.int(3),
    keys: 1 + r.int(3),
    rate: 40,
    durationMs: 3000,
    diskDelayMs: 1 + r.int(30),
    network: { latency: { kind: 'uniform', min: 1, max: 5 + r.int(30) }, loss: Math.round(r.float() * 15) / 100 },
    partitions: [parsePartition(`${r.chance(0.5) ? 'random' : 'isolate'}:${periodMs}ms`)],
    crashes: { everyMs: crashEveryMs, downMs: 200 + 100 * r.int(8) },
  };
}

interface Sweep {
  failures: string[];
  /** Runs in which partitions and crashes both dropped messages. */
  faulted: number;
  /** Operations over all runs, by outcome. */
  ok: number;
  fail: number;
  info: number;
  acknowledgedWrites: number;
}

function sweep(consistency: 'quorum' | 'linearizable'): Sweep {
  const out: Sweep = { failures: [], faulted: 0, ok: 0, fail: 0, info: 0, acknowledgedWrites: 0 };
  for (let seed = 1; seed <= SEEDS; seed++) {
    const options = optionsFor(seed, consistency);
    const result: ScenarioResult = runKv(options);
    const dropped = result.messages.dropped as { partition: number; crash: number };
    if (dropped.partition > 0 && dropped.crash > 0) out.faulted++;
    const counts = String(result.metrics.find((m) => m.name === 'ok / fail / info')?.value).split(' / ').map(Number);
    out.ok += counts[0] ?? 0;
    out.fail += counts[1] ?? 0;
    out.info += counts[2] ?? 0;
    out.acknowledgedWrites += Number(/^(\d+) acknowledged writes/.exec(result.verdicts[0]?.detail ?? '')?.[1] ?? 0);
    const failed = result.verdicts.filter((v) => !v.ok);
    if (failed.length > 0) out.failures.push(`seed ${seed}: ${failed.map((v) => `${v.name} (${v.detail})`).join('; ')}\n  replay: ${kvReplayCommand(options)}`);
  }
  return out;
}

function expectSafeAndFaulty(s: Sweep, verdicts: string[]): void {
  expect(s.failures, s.failures.join('\n')).toEqual([]);
  // The faults really struck, and the runs had all three outcomes to check.
  expect(s.faulted).toBeGreaterThan(SEEDS / 2);
  expect(s.ok).toBeGreaterThan(0);
  expect(s.fail).toBeGreaterThan(0);
  expect(s.info).toBeGreaterThan(0);
  expect(s.acknowledgedWrites).toBeGreaterThan(SEEDS);
  expect(verdicts.length).toBeGreaterThan(0);
}

describe('kv in the simulator under partitions, loss and crashes', () => {
  it(`quorum mode: no acknowledged write lost and replicas converge after healing, ${SEEDS} seeds`, () => {
    const s = sweep('quorum');
    const names = runKv(optionsFor(1, 'quorum')).verdicts.map((v) => v.name);
    expect(names).toEqual(['no acknowledged write lost', 'replicas converged after healing']);
    expectSafeAndFaulty(s, names);
  });

  it(`linearizable mode: the history is linearizable, no acknowledged write lost, replicas converge, ${SEEDS} seeds`, () => {
    const s = sweep('linearizable');
    const names = runKv(optionsFor(1, 'linearizable')).verdicts.map((v) => v.name);
    expect(names).toEqual(['no acknowledged write lost', 'linearizable', 'replicas converged after healing']);
    expectSafeAndFaulty(s, names);
  });
});
