/**
 * Bad usage of the protocol commands: one line on stderr, exit 2; a node
 * that cannot be reached: exit 1, never a crash.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reservePorts } from '../../src/cli/local-cluster.js';
import { runCli, stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

async function deadRoster(): Promise<string> {
  // Ports reserved and released: nobody listens there.
  const [a, b] = await reservePorts(2);
  const path = join(tempDir(), 'roster.yaml');
  writeFileSync(path, `nodes:\n  - {id: 1, url: "http://127.0.0.1:${a}"}\n  - {id: 2, url: "http://127.0.0.1:${b}"}\n`);
  return path;
}

describe('protocol commands', () => {
  it('refuse an unknown view, node or duration with exit 2', async () => {
    const roster = await deadRoster();
    const view = await runCli(['watch', 'weather', '--roster', roster]);
    expect(view.code).toBe(2);
    expect(view.stderr).toMatch(/'weather' is invalid for argument 'view'. Allowed choices are ring, gossip, election, membership/);
    const node = await runCli(['ring', 'send', '--from', '9', '--roster', roster]);
    expect(node.code).toBe(2);
    expect(node.stderr).toBe('distlab: node 9 is not in the roster (its ids: 1, 2)\n');
    const duration = await runCli(['leader', '--timeout', 'soon', '--roster', roster]);
    expect(duration.code).toBe(2);
  });

  it('exit 1 with a message when the nodes cannot be reached', async () => {
    const roster = await deadRoster();
    const ring = await runCli(['ring', 'send', '--roster', roster]);
    expect(ring.code).toBe(1);
    expect(ring.stderr).toMatch(/node 1 \(http:\/\/127\.0\.0\.1:\d+\) did not answer: connection refused/);
    const leader = await runCli(['leader', '--roster', roster]);
    expect(leader.code).toBe(1);
    expect(leader.stdout).toMatch(/^1 +- +- +- +no \(connection refused\)$/m);
    const watch = await runCli(['watch', 'membership', '--once', '--roster', roster]);
    expect(watch.code).toBe(1);
    expect(watch.stdout).toMatch(/^2 +- +- +unreachable \(connection refused\)$/m);
  });
});
