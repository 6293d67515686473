/** `distlab sim` end to end, through the built CLI (npm test builds it first). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/bundle/main.js';

function sim(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npx tsc -p .' (npm test does) before this test`);
  const r = spawnSync(process.execPath, [CLI, 'sim', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('distlab sim', () => {
  it('prints the seed, the trace hash and the figures, and replays a seed exactly', () => {
    const args = ['gossip', '--seed', '11', '--nodes', '4', '--duration', '3s', '--partition', 'random:1s', '--loss', '0.1'];
    const a = sim(...args);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^seed\s+11$/m);
    expect(a.out).toMatch(/msgs-per-op\s+\d/);
    expect(a.out).toMatch(/PASS\s+converged after healing/);
    const hash = /^trace\s+([0-9a-f]{16})$/m.exec(a.out)?.[1];
    expect(hash).toBeDefined();
    expect(sim(...args).out).toContain(`trace      ${hash}`);
  });

  it('emits JSON with --json', () => {
    const r = sim('gossip', '--seed', '3', '--nodes', '3', '--duration', '2s', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ scenario: 'gossip', seed: 3, nodes: 3 });
    expect(result.traceHash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('writes the event stream as JSON lines with --events', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distlab-sim-'));
    try {
      const file = join(dir, 'events.ndjson');
      const r = sim('gossip', '--seed', '4', '--nodes', '3', '--duration', '2s', '--crash', '1s', '--events', file);
      expect(r.code).toBe(0);
      const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(events.some((e) => e.type === 'gossip.learned' && typeof e.origin === 'string')).toBe(true);
      expect(events.some((e) => e.type === 'sim.crashed')).toBe(true);
      for (const e of events) expect(e).toEqual(expect.objectContaining({ node: expect.any(String), time: expect.any(Number), seq: expect.any(Number) }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 and names the seed when a verdict fails', () => {
    // every message between nodes is lost: updates can never spread
    const r = sim('gossip', '--seed', '5', '--nodes', '3', '--duration', '3s', '--loss', '1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL\s+converged after healing/);
    expect(r.err).toMatch(/verdict.*--seed 5/);
  });

  it('runs the protocol scenarios with their own flags', () => {
    const e = sim('election', '--seed', '2', '--algorithm', 'lowest', '--duration', '6s');
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/^\s+algorithm\s+lowest$/m);
    expect(e.out).toMatch(/PASS\s+after healing, all nodes agree on the lowest id/);
    const m = sim('membership', '--seed', '2', '--join', '--nodes', '6', '--loss', '0.05');
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/roster\s+join through node 1/);
    expect(m.out).toMatch(/dead at all live members p50\s+\d+ ms/);
    const r = sim('ring', '--seed', '2', '--crash', '2s', '--duration', '6s');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/a path\s+(\d→)+\d/);
  });

  it('exits 2 on bad usage, with one line', () => {
    for (const args of [['nope'], ['gossip', '--partition', '1/99'], ['gossip', '--partition', '1,2'], ['gossip', '--latency-dist', 'gauss:3'], ['gossip', '--seed', '-1'], ['gossip', '--mode', 'pull'], ['election', '--algorithm', 'raft']]) {
      const r = sim(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')[0]).toMatch(/^(distlab|error):/);
    }
  });
});
