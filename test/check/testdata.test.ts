/**
 * The conformance histories of ../shared/testdata/linearizability (Porcupine's
 * test data, recorded by Jepsen against etcd, and many-key kv histories):
 * every file must get exactly the verdict expected.json gives it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHistory } from '../../src/check/history.js';
import { checkLinearizability } from '../../src/check/linearizability.js';
import { TESTDATA } from './helpers.js';

interface Expected {
  etcd_register: Record<string, boolean>;
  kv_per_key: Record<string, boolean>;
  no_verdict: string[];
}

const expected = JSON.parse(readFileSync(join(TESTDATA, 'expected.json'), 'utf8')) as Expected;
const timings: Array<{ file: string; ms: number }> = [];

function check(file: string) {
  const started = performance.now();
  const { events } = parseHistory(readFileSync(join(TESTDATA, file), 'utf8'));
  const result = checkLinearizability(events, { timeoutMs: 25_000 });
  timings.push({ file, ms: performance.now() - started });
  return result;
}

describe('conformance histories', () => {
  afterAll(() => {
    const slowest = timings.reduce((a, b) => (b.ms > a.ms ? b : a), { file: '-', ms: 0 });
    const total = timings.reduce((sum, t) => sum + t.ms, 0);
    console.log(`checked ${timings.length} histories in ${total.toFixed(0)} ms; slowest ${slowest.file} ${slowest.ms.toFixed(0)} ms`);
  });

  it('covers every history of the directory, each with a verdict or listed as having none', () => {
    const onDisk = ['etcd', 'kv'].flatMap((dir) => readdirSync(join(TESTDATA, dir)).map((f) => `${dir}/${f}`)).sort();
    const listed = [...Object.keys(expected.etcd_register), ...Object.keys(expected.kv_per_key), ...expected.no_verdict].sort();
    expect(onDisk.length).toBeGreaterThan(100);
    expect(listed).toEqual(onDisk);
  });

  describe.each([
    ['etcd register (read/write/cas)', 'register' as const, expected.etcd_register],
    ['kv per key (get/put/append)', 'kv' as const, expected.kv_per_key],
  ])('%s', (_name, model, verdicts) => {
    it.each(Object.entries(verdicts))('%s is linearizable: %s', (file, linearizable) => {
      const result = check(file);
      expect(result.model).toBe(model);
      expect(result.valid).toBe(linearizable);
      if (!linearizable) {
        // a violation names the operation that could not be placed
        expect(result.violation?.stuck.length).toBeGreaterThan(0);
        expect(result.violation?.window.length).toBeGreaterThan(0);
      }
    });
  });

  it.each(expected.no_verdict)('%s (no expected verdict) is decided, not cut off', (file) => {
    const result = check(file);
    expect(typeof result.valid, result.reason).toBe('boolean');
  });
});
