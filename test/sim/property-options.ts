/**
 * Random fault settings for the protocol property tests: each seed draws a
 * cluster size, a loss rate, a partition schedule and a crash rate from its
 * own stream, and gets the `distlab sim` command that replays it.
 */
import { expect } from 'vitest';
import { parsePartition } from '../../src/sim/faults.js';
import { Rng } from '../../src/sim/rng.js';
import type { ScenarioOptions, ScenarioResult } from '../../src/sim/scenarios/types.js';

export interface Drawn {
  options: ScenarioOptions;
  replay: string;
}

export interface Ranges {
  /** Smallest cluster and how many sizes above it. */
  nodes: [number, number];
  /** Largest loss rate (drawn in steps of 0.01), or a fixed rate. */
  maxLoss?: number;
  loss?: number;
  durationMs: number;
  /** Crash every 2..(2 + crashSpread) s, down `downMs`. */
  crashSpread: number;
  downMs: number;
  /** Extra flags for the replay command and options (e.g. --algorithm). */
  extra?: { flags: string; options: Partial<ScenarioOptions> };
}

export function draw(scenario: string, seed: number, r: Ranges): Drawn {
  const rng = Rng.stream(seed, 'property-test');
  const nodes = r.nodes[0] + rng.int(r.nodes[1] + 1);
  const loss = r.loss ?? Math.round(rng.float() * (r.maxLoss ?? 0) * 100) / 100;
  const periodS = 1 + rng.int(3);
  const crashEveryS = 2 + rng.int(r.crashSpread + 1);
  const options: ScenarioOptions = {
    seed,
    nodes,
    durationMs: r.durationMs,
    network: { latency: { kind: 'uniform', min: 1, max: 20 }, loss },
    partitions: [parsePartition(`random:${periodS}s`)],
    crashes: { everyMs: crashEveryS * 1000, downMs: r.downMs },
    ...r.extra?.options,
  };
  const replay =
    `distlab sim ${scenario} --seed ${seed} --nodes ${nodes} --duration ${r.durationMs}ms --latency-dist uniform:1-20 --loss ${loss} ` +
    `--partition random:${periodS}s --crash ${crashEveryS}s:${r.downMs}ms${r.extra ? ` ${r.extra.flags}` : ''}`;
  return { options, replay };
}

/**
 * Runs seeds 1..`seeds` through `run` (which draws the seed's faults, runs the
 * scenario and tallies what its test needs) and returns the failing ones, one
 * line each with the command that replays it.
 */
export function failuresOver(seeds: number, run: (seed: number) => { result: ScenarioResult; replay: string }): string[] {
  const failures: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const { result, replay } = run(seed);
    const f = failure(result, replay);
    if (f) failures.push(f);
  }
  return failures;
}

/** A metric's value as a number (0 when absent). */
export function metricValue(result: ScenarioResult, name: string): number {
  return Number(result.metrics.find((m) => m.name === name)?.value ?? 0);
}

/** The failed verdicts of a run, as one line with its replay command; null when all passed. */
function failure(result: ScenarioResult, replay: string): string | null {
  const failed = result.verdicts.filter((v) => !v.ok);
  return failed.length === 0 ? null : `seed ${result.seed}: ${failed.map((v) => `${v.name} (${v.detail})`).join('; ')}\n  replay: ${replay}`;
}

/**
 * Every verdict of `result` came out `ok` (true: passed; false: failed), and
 * there was at least one — an empty list must not pass for "all passed".
 */
export function expectVerdicts(result: ScenarioResult, ok: boolean): void {
  expect(result.verdicts.length, 'the scenario gave no verdict').toBeGreaterThan(0);
  expect(result.verdicts.filter((v) => v.ok !== ok).map((v) => `${v.name}: ${v.detail}`)).toEqual([]);
}
