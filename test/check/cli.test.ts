/**
 * `distlab check ...` as a user runs it: the built CLI (dist/bundle/main.js,
 * built by `npm test` or `npx tsc -p .`) in a child process. Exit codes:
 * 0 pass, 1 fail, 2 cannot tell or malformed input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, jsonl, REPO_ROOT, TESTDATA } from './helpers.js';

const MAIN = join(REPO_ROOT, 'dist/bundle/main.js');
const dir = mkdtempSync(join(tmpdir(), 'distlab-check-cli-'));

function distlab(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const good = jsonl(events('1 invoke write @x 1', '1 ok write @x 1', '2 invoke read @x', '2 ok read @x 1'));
const stale = jsonl(events('1 invoke write @x 1', '1 ok write @x 1', '1 invoke write @x 2', '1 ok write @x 2', '2 invoke read @x', '2 ok read @x 1'));

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p .)`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('distlab check linearizability', () => {
  it('exits 0 for a linearizable history and says so', () => {
    const r = distlab('check', 'linearizability', file('good.jsonl', good));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^linearizable: 2 operations/);
  });

  it('exits 1 for a violation and prints the window around it', () => {
    const r = distlab('check', 'linearizability', file('stale.jsonl', stale));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('not linearizable (key "x")');
    expect(r.stdout).toContain('read 1, but the register holds 2');
    expect(r.stdout).toMatch(/line +6 +p2 ok read \[x\] 1/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('prints JSON with --json', () => {
    const ok = JSON.parse(distlab('check', 'linearizability', '--json', file('good.jsonl', good)).stdout) as Record<string, unknown>;
    expect(ok).toMatchObject({ checker: 'linearizability', format: 'jsonl', model: 'register', valid: true, operations: 2, partitions: 1 });
    expect(typeof ok.statesExplored).toBe('number');
    expect(typeof ok.elapsedMs).toBe('number');

    const r = distlab('check', 'linearizability', '--json', file('stale.jsonl', stale));
    expect(r.code).toBe(1);
    const bad = JSON.parse(r.stdout) as { valid: unknown; violation: Record<string, unknown> };
    expect(bad.valid).toBe(false);
    expect(bad.violation).toMatchObject({
      key: 'x',
      prefixLength: 2,
      state: 2,
      blocking: { process: 2, f: 'read', key: 'x', output: 1, status: 'ok', invokeLine: 5, completeLine: 6 },
      stuck: [{ operation: { process: 2, f: 'read' }, why: 'read 1, but the register holds 2' }],
    });
    expect((bad.violation.window as Array<{ line: number }>).map((w) => w.line)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('exits 2 when the search bound is reached: it cannot tell', () => {
    const lines: string[] = [];
    for (let p = 0; p < 6; p++) lines.push(`${p} invoke write ${p}`);
    for (let p = 0; p < 6; p++) lines.push(`${p} ok write ${p}`);
    lines.push('9 invoke read', '9 ok read 3');
    const r = distlab('check', 'linearizability', '--max-states', '2', file('busy.jsonl', jsonl(events(...lines))));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot tell: state limit reached/);
  });

  it.each([
    ['an empty file', ''],
    ['a blank file', '\n  \n'],
    ['only an invoke that never completes', jsonl(events('1 invoke write @x 1'))],
    ['only failed operations', jsonl(events('1 invoke write @x 1', '1 fail write @x', '2 invoke read @x', '2 fail read @x'))],
  ])('exits 2 when there is nothing to check: %s', (_what, text) => {
    const path = file('nothing.jsonl', text);
    const r = distlab('check', 'linearizability', path);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^unknown: nothing to check/);
    expect(r.stderr.trim()).toMatch(/^distlab: .*nothing\.jsonl: cannot tell: nothing to check/);
    const json = distlab('check', 'linearizability', '--json', path);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: 'unknown', operations: 0 });
  });

  it('still passes a history of acknowledged writes alone (something was checked)', () => {
    const r = distlab('check', 'linearizability', file('writes.jsonl', jsonl(events('1 invoke write @x 1', '1 ok write @x 1'))));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^linearizable: 1 operations/);
  });

  it('reads a history that starts with a UTF-8 byte-order mark', () => {
    const r = distlab('check', 'linearizability', file('bom.jsonl', `\uFEFF${good}`));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^linearizable: 2 operations/);
  });

  it('reads the conformance formats (detected or named)', () => {
    expect(distlab('check', 'linearizability', join(TESTDATA, 'etcd/etcd_000.log')).code).toBe(1);
    expect(distlab('check', 'linearizability', '--format', 'edn', '--model', 'kv', join(TESTDATA, 'kv/c01-ok.txt')).code).toBe(0);
  });

  it.each([
    ['bad JSON', '{"process":1,"type":"invoke","f":"write","value":1}\n{"process":1,"type":"ok"', /line 2: not valid JSON/],
    ['an unknown operation', '{"process":1,"type":"invoke","f":"incr"}\n', /line 1: "f" must be one of/],
    ['a completion without an invoke', '{"process":1,"type":"invoke","f":"write","value":1}\n{"process":2,"type":"ok","f":"read","value":1}\n', /line 2: process 2 completes/],
  ])('exits 2 with one line naming the line for %s', (_what, text, message) => {
    const path = file('malformed.jsonl', text);
    const r = distlab('check', 'linearizability', path);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path);
    expect(lines[0]).toMatch(message);
  });

  it('exits 2 for an operation the chosen model does not have, a missing file, or a bad flag', () => {
    expect(distlab('check', 'linearizability', '--model', 'kv', file('good2.jsonl', good)).stderr).toMatch(/line 1: the kv model has no 'write'/);
    const missing = distlab('check', 'linearizability', join(dir, 'nope.jsonl'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.jsonl: ENOENT/);
    expect(distlab('check', 'linearizability', '--format', 'xml', file('good3.jsonl', good)).code).toBe(2);
    expect(distlab('check', 'linearizability', '--timeout', 'soon', file('good4.jsonl', good)).code).toBe(2);
  });
});

describe('distlab check lost-writes', () => {
  it('exits 1 and names the lost write and the read that missed it', () => {
    const r = distlab('check', 'lost-writes', file('stale.jsonl', stale));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 lost write(s):');
    expect(r.stdout).toContain('p1 write [x] 2 [lines 3-4]');
    expect(r.stdout).toContain('not seen by p2 read [x] → 1 [lines 5-6]');
  });

  it('exits 0 with none lost, 2 when nothing could be checked, and prints JSON', () => {
    expect(distlab('check', 'lost-writes', file('good.jsonl', good)).code).toBe(0);
    expect(distlab('check', 'lost-writes', file('noreads.jsonl', jsonl(events('1 invoke write 1', '1 ok write 1')))).code).toBe(2);
    const out = JSON.parse(distlab('check', 'lost-writes', '--json', file('stale.jsonl', stale)).stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      checker: 'lost-writes',
      model: 'register',
      valid: false,
      acknowledgedWrites: 2,
      checkedWrites: 2,
      lost: [{ write: { process: 1, f: 'write', value: 2, invokeLine: 3 }, read: { process: 2, output: 1 } }],
    });
  });

  it('exits 2 for malformed input', () => {
    const r = distlab('check', 'lost-writes', file('bad.jsonl', 'not json\n'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 1: not valid JSON/);
  });
});
