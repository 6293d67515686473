/**
 * `distlab kv` as a user runs it: a request the node refuses as invalid is
 * bad usage (exit 2, the node's reason in one line), not a failed operation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCluster, stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('distlab kv', () => {
  it('exits 2 with the node\'s reason when the node refuses the request (HTTP 400)', async () => {
    const cluster = await startCluster({ nodes: 1 });
    const roster = ['--roster', cluster.rosterPath];

    const ok = await runCli(['kv', 'put', 'k', 'v', ...roster]);
    expect(ok.code, ok.stderr).toBe(0);

    const bigW = await runCli(['kv', 'put', 'k', 'v', '--w', '5', ...roster]);
    expect(bigW.code).toBe(2);
    expect(oneLine(bigW.stderr)).toMatch(/^distlab: the node refused the request: 400 .*w must be an integer from 1 to n=1/);

    const emptyKey = await runCli(['kv', 'put', '', 'v', ...roster]);
    expect(emptyKey.code).toBe(2);
    expect(oneLine(emptyKey.stderr)).toMatch(/^distlab: the node refused the request: 400 .*'key'/);

    const bigR = await runCli(['kv', 'get', 'k', '--r', '9', ...roster]);
    expect(bigR.code).toBe(2);
    expect(oneLine(bigR.stderr)).toMatch(/r must be an integer from 1 to n=1/);

    // a key that is not there is still a failed operation, not bad usage
    const missing = await runCli(['kv', 'get', 'nope', ...roster]);
    expect(missing.code).toBe(1);
  }, 60_000);

  it.each([
    [['kv', 'put', 'k', 'v', '--timeout', '0']],
    [['kv', 'get', 'k', '--timeout', '0ms']],
    [['kv', 'del', 'k', '--timeout', '0s']],
    [['load', '--timeout', '0', '--requests', '1', '--target', 'http://127.0.0.1:1']],
  ])('distlab %j refuses a timeout of 0 up front (exit 2)', async (args) => {
    const { code, stderr } = await runCli(args, { cwd: tempDir() });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--timeout <\w+>' argument '0\w*' is invalid\. expected a positive duration \(at least 1 ms\)/);
  });
});
