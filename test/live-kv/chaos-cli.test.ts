/**
 * `distlab chaos` against live nodes: network faults reach every node's
 * /admin/faults, and `chaos kill` kills and restarts a node of a running
 * `distlab up` through its control API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { http, pidAlive, runCli, spawnCli, startCluster, stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

describe('distlab chaos', () => {
  it('partitions, delays, drops and heals on every node of the roster', async () => {
    const cluster = await startCluster({ nodes: 3 });
    const roster = cluster.rosterPath;
    const faults = async () => Object.fromEntries(await Promise.all(cluster.nodes.map(async (n) => [n.id, (await http(`${n.url}/admin/faults`)).body])));

    const split = await runCli(['chaos', 'partition', '1,2/3', '--roster', roster]);
    expect(split.code, split.stderr).toBe(0);
    let now = await faults();
    expect(now['1']).toMatchObject({ blockTo: ['3'], blockFrom: ['3'] });
    expect(now['2']).toMatchObject({ blockTo: ['3'], blockFrom: ['3'] });
    expect(now['3']).toMatchObject({ blockTo: ['1', '2'], blockFrom: ['1', '2'] });

    expect((await runCli(['chaos', 'delay', '--ms', '50', '--jitter', '5', '--roster', roster])).code).toBe(0);
    expect((await runCli(['chaos', 'drop', '--p', '0.25', '--roster', roster])).code).toBe(0);
    now = await faults();
    for (const id of ['1', '2', '3']) expect(now[id]).toMatchObject({ delayMs: 50, jitterMs: 5, drop: 0.25 });

    expect((await runCli(['chaos', 'heal', '--roster', roster])).code).toBe(0);
    now = await faults();
    for (const id of ['1', '2', '3']) expect(now[id]).toEqual({ drop: 0, delayMs: 0, jitterMs: 0, blockTo: [], blockFrom: [] });

    for (const bad of [
      ['chaos', 'partition', '1,2', '--roster', roster],
      ['chaos', 'partition', '1/9', '--roster', roster],
      ['chaos', 'partition', '1,2/2,3', '--roster', roster],
      ['chaos', 'drop', '--p', '1.5', '--roster', roster],
      ['chaos', 'delay', '--ms', 'soon', '--roster', roster],
    ]) {
      const res = await runCli(bad);
      expect(res.code, bad.join(' ')).toBe(2);
      expect(res.stderr).toMatch(/expected|not in the roster|two sides/);
    }
  }, 120_000);

  it('kill: SIGKILLs a node of `distlab up` and restarts it; up still stops everything', async () => {
    const dir = tempDir();
    const up = spawnCli(['up', '--nodes', '3', '--base-port', '0', '--log-level', 'warn'], { cwd: dir });
    await up.waitForOutput(/nodes ready/, 60_000);
    const control = JSON.parse(readFileSync(join(dir, '.distlab/cluster.json'), 'utf8')) as { control: string; pid: number };
    expect(control.pid).toBe(up.child.pid);
    const before = (await http(`${control.control}/nodes`)).body as Array<{ id: string; pid: number; alive: boolean }>;
    expect(before.map((n) => n.alive)).toEqual([true, true, true]);

    const chaos = await runCli(['chaos', 'kill', '--every', '200ms', '--restart-after', '200ms', '--count', '1'], { cwd: dir, timeoutMs: 60_000 });
    expect(chaos.code, chaos.stderr).toBe(0);
    const victim = /killed node (\S+)/.exec(chaos.stdout)?.[1];
    expect(victim).toBeDefined();
    expect(chaos.stdout).toContain(`restarted node ${victim}`);
    const after = (await http(`${control.control}/nodes`)).body as Array<{ id: string; pid: number; alive: boolean }>;
    expect(after.map((n) => n.alive)).toEqual([true, true, true]);
    const oldPid = before.find((n) => n.id === victim)?.pid as number;
    expect(after.find((n) => n.id === victim)?.pid).not.toBe(oldPid);
    expect(pidAlive(oldPid)).toBe(false);

    up.child.kill('SIGINT');
    expect((await up.exited).code).toBe(0);
    for (const n of after) expect(pidAlive(n.pid)).toBe(false);
  }, 120_000);
});
