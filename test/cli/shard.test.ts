/**
 * `distlab shard` end to end: runs the built CLI (dist/bundle/main.js, built by
 * `npm test` or `npx tsc -p .`) as a child process and checks its output
 * against the library it fronts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConsistentHashRing, ModuloStrategy, type RebalanceReport } from '../../src/protocols/sharding.js';

const cli = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function distlab(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p .)`);
});

describe('distlab shard report', () => {
  it('prints the handout table for both strategies and the load per node', async () => {
    const run = await distlab('shard', 'report');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Testing Strategy: MODULO\nKeys Moved: +\d+\/1000\nPercentage: +\d+\.\d%/);
    expect(run.stdout).toMatch(/Testing Strategy: CONSISTENT_HASHING \(\d+ virtual nodes per node\)\nKeys Moved: +\d+\/1000/);
    expect(run.stdout).toMatch(/^modulo +before +3 /m);
    expect(run.stdout).toMatch(/^ +after +4 /m);
    expect(run.stdout).toMatch(/^consistent +before +3 /m);
  });

  it('honours --keys, --from, --to and --vnodes, and its figures add up (JSON)', async () => {
    const run = await distlab('shard', 'report', '--keys', '500', '--from', '5', '--to', '3', '--vnodes', '40', '--json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { vnodes: number; reports: RebalanceReport[] };
    expect(out.vnodes).toBe(40);
    expect(out.reports.map((r) => r.strategy)).toEqual(['modulo', 'consistent']);
    for (const r of out.reports) {
      expect([r.keys, r.from, r.to, r.before.nodes, r.after.nodes]).toEqual([500, 5, 3, 5, 3]);
      expect(r.movedFraction).toBeCloseTo(r.moved / 500, 12);
      expect(r.before.mean * 5).toBeCloseTo(500, 9);
      expect(r.after.mean * 3).toBeCloseTo(500, 9);
    }
  });
});

describe('distlab shard which', () => {
  it('prints the owner and the preference list the ring computes', async () => {
    const run = await distlab('shard', 'which', 'user_123', '--nodes', '1,2,3,4', '--replicas', '3');
    expect(run.code).toBe(0);
    const expected = new ConsistentHashRing(['1', '2', '3', '4']).preferenceList('user_123', 3);
    expect(run.stdout).toContain(`Key 'user_123' maps to Node ${expected[0]}\n`);
    expect(run.stdout).toContain(`replicas (preference list, N=3): ${expected.join(', ')}\n`);
  });

  it('a count and the same list of ids give the same answer; modulo and vnodes are honoured', async () => {
    const [byCount, byList, modulo] = await Promise.all([
      distlab('shard', 'which', 'order:77', '--nodes', '5', '--vnodes', '8', '--json'),
      distlab('shard', 'which', 'order:77', '--nodes', '1,2,3,4,5', '--vnodes', '8', '--json'),
      distlab('shard', 'which', 'order:77', '--nodes', 'a,b,c', '--replicas', '2', '--strategy', 'modulo', '--json'),
    ]);
    expect(JSON.parse(byCount.stdout)).toEqual(JSON.parse(byList.stdout));
    const ring = JSON.parse(byCount.stdout) as { owner: string; replicas: string[]; nodes: string[] };
    expect(ring.nodes).toEqual(['1', '2', '3', '4', '5']);
    expect(ring.replicas).toEqual(new ConsistentHashRing(ring.nodes, { vnodes: 8 }).preferenceList('order:77', 3));
    expect(ring.owner).toBe(ring.replicas[0]);
    expect(JSON.parse(modulo.stdout).replicas).toEqual(new ModuloStrategy(['a', 'b', 'c']).preferenceList('order:77', 2));
  });
});

describe('distlab shard: bad usage exits 2 with a message naming the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['shard', 'report', '--keys', 'x'], /--keys.*expected an integer/],
    [['shard', 'report', '--keys', '0'], /--keys.*from 1/],
    [['shard', 'report', '--vnodes', '0'], /--vnodes.*from 1/],
    [['shard', 'report', '--from', '3', '--to', '3'], /--from and --to must differ/],
    [['shard', 'report', '--bogus'], /unknown option '--bogus'/],
    [['shard', 'which'], /missing required argument 'key'/],
    [['shard', 'which', 'k', '--nodes', '1,,2'], /--nodes.*expected a node count or a list/],
    [['shard', 'which', 'k', '--nodes', '1,2,1'], /node '1' is listed twice/],
    [['shard', 'which', 'k', '--nodes', '3', '--replicas', '4'], /--replicas 4 is more than the 3 nodes/],
    [['shard', 'which', 'k', '--strategy', 'random'], /--strategy.*expected 'consistent' or 'modulo'/],
  ];

  it.concurrent.each(cases)('distlab %j', async (args, problem) => {
    const run = await distlab(...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, ...rest] = run.stderr.trimEnd().split('\n');
    expect(first).toMatch(problem);
    // at most commander's one-line hint follows; never a stack trace
    expect(rest.filter((line) => !/^\(run with --help for usage\)$/.test(line))).toEqual([]);
  });
});
