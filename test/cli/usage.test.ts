/**
 * Bad usage is one line on stderr and exit code 2; a failed operation is exit code 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { commandModules } from '../../src/cli/commands/index.js';
import { runCli, startCluster, stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

function rosterFile(text: string, name = 'roster.yaml'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

describe('command-line usage', () => {
  it.each([
    [['node', '--port', 'abc'], /--port <n>.*expected an integer, got 'abc'/],
    [['node', '--port', '70000'], /expected an integer from 0 to 65535/],
    [['node', '--load-factor', '99'], /expected an integer from 0 to 45/],
    [['node', '--id', 'no spaces'], /id must be/],
    [['node', '--log-level', 'loud'], /Allowed choices are/],
    [['node', '--call-timeout', 'soon'], /expected a duration/],
    [['node', '--bogus'], /unknown option '--bogus'/],
    [['node', '--host', '999.1.1.1'], /option '--host <addr>' argument '999\.1\.1\.1' is invalid\. expected an IP address/],
    [['node', '--host', 'no such host'], /option '--host <addr>' argument 'no such host' is invalid/],
    [['node', '--host', '[::1]'], /option '--host <addr>' argument '\[::1\]' is invalid/],
    [['up', '--nodes', '0'], /expected an integer from 1 to 100/],
    [['up', '--base-port', '65535', '--nodes', '3'], /goes past port 65535/],
    [['load', '--target', 'not-a-url'], /--target: 'not-a-url' is not a URL/],
    [['load', '--concurrent', '0', '--target', 'http://127.0.0.1:1'], /expected an integer from 1 to 1000/],
  ])('distlab %j → exit 2 with a one-line message', async (args, message) => {
    const { code, stderr } = await runCli(args, { cwd: tempDir() });
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n').filter((l) => !l.startsWith('(run with --help')).length).toBe(1);
  });

  it.each([
    [['ping', '--timeout', '0']],
    [['leader', '--timeout', '0']],
    [['members', '--timeout', '0']],
    [['watch', 'ring', '--once', '--timeout', '0']],
    [['gossip', 'update', '--timeout', '0']],
    [['ring', 'send', '--timeout', '0']],
    [['broadcast', 'hi', '--timeout', '0']],
  ])('distlab %j refuses a timeout of 0 up front (exit 2), not as nodes that did not answer', async (args) => {
    const { code, stderr } = await runCli(args, { cwd: tempDir() });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--timeout <duration>' argument '0' is invalid\. expected a positive duration \(at least 1 ms\)/);
  });

  it.each([
    ['a missing file', () => '/nonexistent/roster.yaml', /\/nonexistent\/roster\.yaml: no such roster file/],
    ['a duplicate id', () => rosterFile('- {id: 1, url: "http://127.0.0.1:1"}\n- {id: 1, url: "http://127.0.0.1:2"}'), /id 1 is already used by node #1/],
    ['broken YAML', () => rosterFile('nodes: [ {id: 1'), /cannot parse/],
    ['a node that is not in it', () => rosterFile('- {id: 2, url: "http://127.0.0.1:2"}'), /node 1 is not in .* \(its ids: 2\)/],
  ])('distlab node with %s as roster → exit 2 naming the problem', async (_name, file, message) => {
    const { code, stderr } = await runCli(['node', '--id', '1', '--roster', file()], { cwd: tempDir() });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('distlab node with a --data-dir that is a file, or under one → exit 2 naming it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'afile'), 'x');
    const file = await runCli(['node', '--data-dir', 'afile', '--port', '0'], { cwd: dir });
    expect(file.code).toBe(2);
    expect(file.stderr.trim()).toBe('distlab: --data-dir afile: not a directory');
    const under = await runCli(['node', '--data-dir', 'afile/sub', '--port', '0'], { cwd: dir });
    expect(under.code).toBe(2);
    expect(under.stderr.trim()).toBe(`distlab: --data-dir afile/sub: ${join(dir, 'afile')} is not a directory`);
  });

  it('distlab node whose data file is not a database → exit 1 with one line, not a stack trace', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'node.sqlite'), 'not a database, but long enough to be read as a header of one\n'.repeat(4));
    const { code, stderr } = await runCli(['node', '--data-dir', 'data', '--port', '0'], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('distlab: cannot open the data directory data: file is not a database');
  });

  it('ping and load without a roster say where one comes from', async () => {
    for (const command of ['ping', 'load']) {
      const { code, stderr } = await runCli([command], { cwd: tempDir() });
      expect(code).toBe(2);
      expect(stderr.trim()).toBe("distlab: no roster at .distlab/roster.yaml: start a local cluster with 'distlab up', or pass --roster FILE");
    }
  });

  it('settings come from DISTLAB_* environment variables too, and --help shows them', async () => {
    const { code, stderr } = await runCli(['node'], { cwd: tempDir(), env: { DISTLAB_PORT: 'abc' } });
    expect(code).toBe(2);
    expect(stderr).toMatch(/value 'abc' from env 'DISTLAB_PORT' is invalid\. expected an integer/);
    const help = await runCli(['node', '--help']);
    expect(help.code).toBe(0);
    for (const v of ['DISTLAB_ID', 'DISTLAB_TEAM', 'DISTLAB_HOST', 'DISTLAB_PORT', 'DISTLAB_ROSTER', 'DISTLAB_LOAD_FACTOR', 'DISTLAB_WORKERS', 'DISTLAB_LOG_LEVEL']) {
      expect(help.stdout.replace(/\s+/g, ' ')).toContain(`env: ${v})`);
    }
  });
});

describe('ping and load against a cluster', () => {
  it('ping lists every node, and exits 1 once one is down', async () => {
    const cluster = await startCluster({ nodes: 2 });
    const ok = await runCli(['ping', '--roster', cluster.rosterPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^1\s+http:\/\/127\.0\.0\.1:\d+\s+pong\s+[\d.]+ ms\s+team1\s+1$/m);
    expect(ok.stdout).toMatch(/^2\s+http:\/\/127\.0\.0\.1:\d+\s+pong\s+[\d.]+ ms\s+team2\s+1$/m);
    expect(ok.stdout).toContain('2/2 nodes answered');

    await cluster.kill('2');
    const partial = await runCli(['ping', '--roster', cluster.rosterPath]);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/^2\s+http:\/\/127\.0\.0\.1:\d+\s+no answer: connection refused/m);
    expect(partial.stdout).toMatch(/^1\s+.*pong\s+[\d.]+ ms\s+team1\s+2$/m);
    expect(partial.stderr).toContain('distlab: 1 node(s) did not answer');
  });

  it('load spreads POST /data round-robin and prints a summary; exit 1 when nothing succeeds', async () => {
    const cluster = await startCluster({ nodes: 2 });
    const run = await runCli(['load', '--roster', cluster.rosterPath, '--requests', '10', '--concurrent', '3']);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => /^ok  \[http/.test(l));
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(/^ok  \[http:\/\/127\.0\.0\.1:\d+\] 200 \| latency [\d.]+ ms \| active \d+$/);
    expect(run.stdout).toMatch(/requests 10 {2}ok 10 {2}errors 0/);
    expect(run.stdout).toMatch(/p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+/);
    for (const node of cluster.nodes) expect(run.stdout).toContain(`${node.url} 5`);
    const stored = await Promise.all(cluster.nodes.map(async (n) => (await fetch(`${n.url}/stats`)).json()));
    expect(stored.map((s: { requests_total: number }) => s.requests_total >= 5)).toEqual([true, true]);

    await cluster.kill('1');
    const dead = await runCli(['load', '--target', cluster.nodes[0]!.url, '--requests', '2']);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toMatch(/ERR \[http:\/\/127\.0\.0\.1:\d+\] failed: connection refused/);
    expect(dead.stdout).toMatch(/requests 2 {2}ok 0 {2}errors 2/);
  });
});

/** Every command group (a command with sub-commands), as the words that name it: [['kv'], ['chaos'], ...]. */
async function commandGroups(): Promise<string[][]> {
  const program = new Command('distlab');
  for (const m of commandModules) (await m.load()).register(program);
  const groups: string[][] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      if (sub.commands.length === 0) continue;
      groups.push([...path, sub.name()]);
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(program, []);
  return groups;
}

describe('command groups', () => {
  it('a group without its sub-command prints its help to stderr and exits 2; --help and help still exit 0', async () => {
    const groups = await commandGroups();
    expect(groups.map((g) => g.join(' '))).toEqual(expect.arrayContaining(['kv', 'chaos', 'check', 'shard', 'ring', 'gossip']));
    for (const group of [[], ...groups]) {
      const name = ['distlab', ...group].join(' ');
      const bare = await runCli(group);
      expect(bare.code, name).toBe(2);
      expect(bare.stdout, name).toBe('');
      expect(bare.stderr, name).toContain(`Usage: ${name} [options] [command]`);
    }
    for (const args of [['--help'], ['kv', '--help'], ['help', 'kv'], ['check', '--help']]) {
      const help = await runCli(args);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout, args.join(' ')).toMatch(/^Usage: distlab/);
    }
  }, 120_000);
});
