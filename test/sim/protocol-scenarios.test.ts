/**
 * The protocol scenarios (ring, broadcast-all, broadcast-structured,
 * election, membership, registry): each replays a seed to the same trace,
 * reports the figures it promises, and its verdicts fail when the protocol
 * really misbehaves.
 */
import { describe, expect, it } from 'vitest';
import { expectVerdicts } from './property-options.js';
import { parsePartition } from '../../src/sim/faults.js';
import { findScenario } from '../../src/sim/scenarios/index.js';
import { runElection } from '../../src/sim/scenarios/election.js';
import { runMembership } from '../../src/sim/scenarios/membership.js';
import { runRingRounds } from '../../src/sim/scenarios/ring.js';
import { ring, RING_NAMES } from '../../src/protocols/ring.js';
import type { ScenarioOptions, ScenarioResult } from '../../src/sim/scenarios/types.js';

const NAMES = ['ring', 'broadcast-all', 'broadcast-structured', 'election', 'membership', 'registry'];

const faulty = (seed: number): ScenarioOptions => ({
  seed,
  nodes: 5,
  durationMs: 8000,
  network: { latency: { kind: 'uniform', min: 1, max: 20 }, loss: 0.03 },
  partitions: [parsePartition('random:2s')],
  crashes: { everyMs: 2000, downMs: 1500 },
});

const metric = (r: ScenarioResult, name: string) => r.metrics.find((m) => m.name === name)?.value;
const verdict = (r: ScenarioResult, prefix: string) => r.verdicts.find((v) => v.name.startsWith(prefix));

describe.each(NAMES)('scenario %s', (name) => {
  const scenario = findScenario(name)!;
  it('is registered, replays a seed to the same trace hash, and passes under faults', () => {
    expect(scenario).toBeDefined();
    const a = scenario.run(faulty(21));
    const b = scenario.run(faulty(21));
    expect(a.traceHash).toMatch(/^[0-9a-f]{16}$/);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.metrics).toEqual(a.metrics);
    expect(a.verdicts.length).toBeGreaterThan(0);
    expect(a.verdicts.filter((v) => !v.ok)).toEqual([]);
    expect(scenario.run(faulty(22)).traceHash).not.toBe(a.traceHash);
  });
});

describe('scenario figures and failing verdicts', () => {
  it('ring: reports paths with the crashed node skipped', () => {
    const r = findScenario('ring')!.run({ seed: 3, nodes: 4, durationMs: 6000, crashes: { everyMs: 2000, downMs: 1500 } });
    expect(Number(metric(r, 'rounds completed'))).toBeGreaterThan(0);
    expect(String(metric(r, 'a path'))).toMatch(/^(\d→)+\d( \(skipped [\d,]+\))?$/);
    expect(verdict(r, 'skipped nodes were really down')?.detail).toMatch(/of a crashed node/);
  });

  it('ring: a ring that forgets the rounds it saw fails the log-once verdict', () => {
    // logSize 0: the origin no longer remembers its own round and logs it again when it returns
    const r = runRingRounds('ring', RING_NAMES, (config) => ring({ ...config, logSize: 0 }), { seed: 3, nodes: 3, durationMs: 3000 });
    expect(verdict(r, 'every completed round logged once along its path')).toMatchObject({ ok: false, detail: expect.stringMatching(/logged round .* 2 times in one life/) });
  });

  it('broadcast-all: the node down during a send is reported missing, and that is explained', () => {
    const r = findScenario('broadcast-all')!.run({ seed: 4, nodes: 4, durationMs: 6000, crashes: { everyMs: 2000, downMs: 1500 } });
    expect(String(metric(r, 'misses (down/cut off/running)'))).toMatch(/^[1-9]\d*\/0\/0$/);
    expectVerdicts(r, true);
  });

  it('election: measures re-election and comeback for both algorithms, and fails when no message gets through', () => {
    for (const algorithm of ['bully', 'lowest']) {
      const r = runElection({ seed: 5, algorithm });
      expect(metric(r, 'algorithm')).toBe(algorithm);
      expect(Number(metric(r, 're-election after the leader was killed'))).toBeGreaterThan(0);
      expect(metric(r, 'agreement after the old leader returned')).not.toBeNull();
      expectVerdicts(r, true);
    }
    const cut = runElection({ seed: 5, nodes: 3, durationMs: 2000, network: { loss: 1 } });
    expect(cut.verdicts[0]?.ok).toBe(false); // everyone leads alone: no agreement
    expect(() => runElection({ seed: 1, algorithm: 'ring' })).toThrow(/bully or lowest/);
  });

  it('election: scales the timeouts with the latency and says so', () => {
    const r = runElection({ seed: 6, network: { latency: { kind: 'constant', ms: 150 } } });
    expect(String(metric(r, 'timeouts (ping interval/timeout, election)'))).toMatch(/×2\.00 for the latency/);
    expectVerdicts(r, true);
  });

  it('membership: detects the crash, picks the LAN profile for slow links, and joins through one seed', () => {
    const fast = runMembership({ seed: 7 });
    expect(String(metric(fast, 'SWIM profile'))).toMatch(/^loopback/);
    expect(Number(metric(fast, 'dead at all live members max'))).toBeGreaterThan(0);
    const slow = runMembership({ seed: 7, network: { latency: { kind: 'constant', ms: 100 } }, durationMs: 60_000 });
    expect(String(metric(slow, 'SWIM profile'))).toMatch(/^LAN/);
    const joined = runMembership({ seed: 7, join: true, nodes: 8 });
    expect(metric(joined, 'roster')).toMatch(/join through node 1/);
    for (const r of [fast, slow, joined]) expectVerdicts(r, true);
  });

  it('membership: fails when crashed nodes cannot be told apart from live ones', () => {
    // all messages lost: every member declares every other dead, though they run
    const r = runMembership({ seed: 8, nodes: 4, durationMs: 8000, network: { loss: 1 } });
    expect(verdict(r, 'no running node declared dead')?.ok).toBe(false);
  });

  it('registry: declares the crashed member dead inside the promised window', () => {
    const r = findScenario('registry')!.run({ seed: 9 });
    const after = Number(metric(r, 'declared dead after max'));
    expect(after).toBeGreaterThanOrEqual(7000);
    expect(after).toBeLessThanOrEqual(10_510);
    expectVerdicts(r, true);
  });
});
