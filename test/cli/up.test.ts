/**
 * `distlab up` as a user runs it: a cluster comes up, answers, and goes away
 * completely — on SIGTERM, with a node killed meanwhile, or when `up` itself
 * is killed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRoster } from '../../src/live/roster.js';
import { http, pidAlive, runCli, spawnCli, stopAll, tempDir, waitFor } from '../helpers/cluster.js';

afterEach(stopAll);

const TABLE_ROW = /^(\d+)\s+(team\d+)\s+(http:\/\/127\.0\.0\.1:\d+)\s+(\d+)$/gm;

async function startUp(nodes: number) {
  const dir = tempDir();
  const rosterPath = join(dir, 'cluster', 'roster.yaml');
  const up = spawnCli(['up', '--nodes', String(nodes), '--base-port', '0', '--roster-out', rosterPath, '--log-level', 'warn'], { cwd: dir });
  await up.waitForOutput(/nodes ready/);
  const rows = [...up.stdout().matchAll(TABLE_ROW)].map((m) => ({ id: m[1]!, url: m[3]!, pid: Number(m[4]) }));
  return { up, rows, rosterPath };
}

describe('distlab up', () => {
  it('starts the nodes, writes the roster, and stops every node on SIGTERM', async () => {
    const { up, rows, rosterPath } = await startUp(3);
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3']);
    const roster = parseRoster(readFileSync(rosterPath, 'utf8'), rosterPath);
    expect(roster.map((n) => n.url)).toEqual(rows.map((r) => r.url));
    for (const row of rows) {
      expect((await http(`${row.url}/health`)).body).toEqual({ status: 'ok', node_id: Number(row.id), active_requests: 1 });
      expect(pidAlive(row.pid)).toBe(true);
    }
    // the nodes know each other: node 3's next node is node 1
    expect((await http(`${rows[2]!.url}/call-echo?msg=ring`)).body).toMatchObject({ reply: { msg: 'ring', node_id: 1 } });

    up.child.kill('SIGTERM');
    expect(await up.exited).toEqual({ code: 0, signal: null });
    expect(up.stdout()).toMatch(/all nodes stopped/);
    for (const row of rows) expect(pidAlive(row.pid)).toBe(false);
  });

  it('reports a node killed meanwhile and still stops the others cleanly', async () => {
    const { up, rows } = await startUp(2);
    process.kill(rows[1]!.pid, 'SIGKILL');
    await up.waitForOutput(/node 2 \(pid \d+\) exited \(SIGKILL\); 1 node\(s\) still running/);
    up.child.kill('SIGINT');
    expect((await up.exited).code).toBe(0);
    for (const row of rows) expect(pidAlive(row.pid)).toBe(false);
  });

  it('leaves no node behind when up itself is killed with SIGKILL', async () => {
    const { up, rows } = await startUp(2);
    up.child.kill('SIGKILL');
    await up.exited;
    await waitFor(() => rows.every((r) => !pidAlive(r.pid)), 'the nodes to notice their parent is gone and exit');
  });

  it('fails with exit code 1 and a clear message when a port is taken', async () => {
    const { rows } = await startUp(1);
    const port = new URL(rows[0]!.url).port;
    const dir = tempDir();
    const second = spawnCli(['up', '--nodes', '1', '--base-port', port, '--roster-out', join(dir, 'r.yaml'), '--log-level', 'warn'], { cwd: dir });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr()).toContain('distlab: cluster did not start: node 1 exited during start-up');
    expect(second.stderr()).toContain(`distlab: port ${port} on 127.0.0.1 is already in use`);
    // no roster is left pointing at a cluster that never ran
    expect(existsSync(join(dir, 'r.yaml'))).toBe(false);
  });

  it('a failed start puts back the roster that was there before', async () => {
    const { rows } = await startUp(1);
    const port = new URL(rows[0]!.url).port;
    const dir = tempDir();
    const rosterPath = join(dir, 'r.yaml');
    const previous = '- {id: 7, url: "http://127.0.0.1:7"}\n';
    writeFileSync(rosterPath, previous);
    const second = spawnCli(['up', '--nodes', '1', '--base-port', port, '--roster-out', rosterPath, '--log-level', 'warn'], { cwd: dir });
    expect((await second.exited).code).toBe(1);
    expect(readFileSync(rosterPath, 'utf8')).toBe(previous);
  });

  it.each([
    ['under a file', (dir: string) => writeFileSync(join(dir, 'afile'), 'x'), 'afile/r.yaml', '--roster-out afile/r.yaml: afile: not a directory'],
    ['a directory', (dir: string) => mkdirSync(join(dir, 'adir')), 'adir', '--roster-out adir: is a directory'],
  ])('refuses a --roster-out it cannot write (%s): exit 2, one line, no node started', async (_name, prepare, rosterOut, message) => {
    const dir = tempDir();
    prepare(dir);
    const { code, stderr, stdout } = await runCli(['up', '--roster-out', rosterOut, '--nodes', '1', '--base-port', '0', '--log-level', 'warn'], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(`distlab: ${message}`);
    expect(stdout).not.toMatch(/starting/);
  });

  it.each([
    ['--data-root is a file', (dir: string) => writeFileSync(join(dir, 'afile'), 'x'), 'afile', '--data-root afile: not a directory'],
    ['--data-root is under a file', (dir: string) => writeFileSync(join(dir, 'afile'), 'x'), 'afile/sub', (dir: string) => `--data-root afile/sub: ${join(dir, 'afile')} is not a directory`],
    [
      "a node's data directory is a file",
      (dir: string) => {
        mkdirSync(join(dir, 'root'));
        writeFileSync(join(dir, 'root', '1'), 'x');
      },
      'root',
      '--data-root root: root/1: not a directory',
    ],
  ])('refuses a data root it cannot use (%s): exit 2, one line, no roster', async (_name, prepare, root, message) => {
    const dir = tempDir();
    prepare(dir);
    const rosterPath = join(dir, '.distlab', 'roster.yaml');
    const { code, stderr } = await runCli(['up', '--data-root', root, '--nodes', '1', '--base-port', '0', '--log-level', 'warn'], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(`distlab: ${typeof message === 'function' ? message(dir) : message}`);
    expect(existsSync(rosterPath)).toBe(false);
  });
});
