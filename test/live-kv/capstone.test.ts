/**
 * The capstone end to end: its own 3-node cluster on disk, a node SIGKILLed
 * every few seconds, four client workers — and not one acknowledged write
 * lost, in linearizable mode with a linearizable history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

describe('distlab capstone', () => {
  it('loses no acknowledged write under chaos kill, and the history is linearizable', async () => {
    const dir = tempDir();
    const res = await runCli(
      ['capstone', '--duration', '30s', '--kill-every', '5s', '--restart-after', '1s', '--consistency', 'linearizable', '--data-root', dir, '--quiet', '--json'],
      { timeoutMs: 150_000 },
    );
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const report = JSON.parse(res.stdout.slice(res.stdout.indexOf('\n{') + 1));
    expect(report.passed).toBe(true);
    expect(report.kills).toBeGreaterThanOrEqual(3);
    expect(report.writes.ok).toBeGreaterThan(50);
    expect(report.lostWrites.valid).toBe(true);
    expect(report.lostWrites.lost).toEqual([]);
    expect(report.lostWrites.checkedWrites).toBe(report.writes.ok);
    expect(report.linearizability.valid).toBe(true);
    expect(res.stdout).toMatch(/KILLED NODE/);
  }, 180_000);
});
