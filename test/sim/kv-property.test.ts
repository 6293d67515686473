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
 * A failing seed is printed with the command that replays it. The last
 * block runs `distlab sim kv` itself (the built CLI, as test/sim/cli.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizability } from '../../src/check/linearizability.js';
import { parseHistory } from '../../src/check/history.js';
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
  it('the harness has teeth: with R = W = 1 (no quorum overlap) it finds lost writes', () => {
    let caught = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const result = runKv(optionsFor(seed, 'quorum'), { r: 1, w: 1 });
      if (result.verdicts.find((v) => v.name === 'no acknowledged write lost')?.ok === false) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });


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

const CLI = 'dist/bundle/main.js';

function distlab(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npx tsc -p .' (npm test does) before this test`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('distlab sim kv', () => {
  it('reports figures and verdicts, replays a seed exactly, and writes a history distlab check accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distlab-kvsim-'));
    try {
      const file = join(dir, 'history.jsonl');
      const args = ['sim', 'kv', '--seed', '7', '--nodes', '4', '--duration', '3s', '--consistency', 'linearizable', '--loss', '0.05', '--partition', 'random:1s', '--crash', '1s:300ms'];
      const a = distlab(...args, '--history', file);
      expect(a.err).toBe('');
      expect(a.code).toBe(0);
      for (const line of [/^seed\s+7$/m, /ok \/ fail \/ info\s+\d+ \/ \d+ \/ \d+/, /msgs-per-op\s+\d/, /latency p50\s+\d/, /PASS\s+no acknowledged write lost/, /PASS\s+linearizable/, /PASS\s+replicas converged after healing/]) {
        expect(a.out).toMatch(line);
      }
      const hash = /^trace\s+([0-9a-f]{16})$/m.exec(a.out)?.[1];
      expect(hash).toBeDefined();
      expect(distlab(...args).out).toContain(`trace      ${hash}`);
      const { events } = parseHistory(readFileSync(file, 'utf8'));
      expect(events.some((e) => e.type === 'ok' && e.f === 'put')).toBe(true);
      expect(checkLinearizability(events).valid).toBe(true);
      expect(distlab('check', 'linearizability', file).code).toBe(0);
      expect(distlab('check', 'lost-writes', file).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in quorum mode prints linearizability as information, not as a verdict', () => {
    const r = distlab('sim', 'kv', '--seed', '3', '--nodes', '3', '--duration', '2s', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.verdicts.map((v: { name: string }) => v.name)).toEqual(['no acknowledged write lost', 'replicas converged after healing']);
    expect(result.metrics).toContainEqual(expect.objectContaining({ name: 'linearizable (information only)' }));
  });

  it('exits 2 on bad kv flags, with a one-line message', () => {
    for (const args of [['--consistency', 'strong'], ['--clients', '0'], ['--keys', 'x']]) {
      const r = distlab('sim', 'kv', '--duration', '1s', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')[0]).toMatch(/^(distlab|error):/);
    }
  });
});
