/**
 * A real 5-node cluster passes the ring and the broadcasts: through the
 * generic routes, the handouts' own `POST /message`, and the CLI; then one
 * node is SIGKILLed and the ring closes over the survivors, reporting it.
 * The tests share one cluster and run in order; the kill comes last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/cli/local-cluster.js';
import { http, runCli, spawnCli, startCluster, stopAll, waitFor } from '../helpers/cluster.js';

/** Five node processes can take a while to start on a busy machine. */
const START_TIMEOUT_MS = 60_000;
let cluster: LocalCluster;
const url = (id: string): string => cluster.node(id).url;
const ids = ['1', '2', '3', '4', '5'];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 5, nodeArgs: ['--gossip-interval', '200ms'] });
}, START_TIMEOUT_MS);
afterAll(stopAll);

/** How many entries of a node's message log carry `payload`. */
async function logged(id: string, payload: unknown): Promise<number> {
  const res = await http(`${url(id)}/messages`);
  return (res.body.messages as Array<{ payload: unknown }>).filter((m) => m.payload === payload).length;
}

describe('ring and broadcast on a live 5-node cluster', () => {
  it('passes a token through all five nodes and back, and every node logs it once', async () => {
    const res = await http(`${url('2')}/ring/start`, { json: { token: 'tok-a' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ node_id: 2, token: 'tok-a', path: [2, 3, 4, 5, 1, 2], visited: [2, 3, 4, 5, 1], skipped: [] });
    expect(res.body.rtt_ms).toBeGreaterThanOrEqual(0);
    for (const id of ids) expect(await logged(id, 'tok-a')).toBe(1);
  });

  it("completes a round from the handout's ring_send.py posting to the next node's /message", async () => {
    // Node 1's script posts to node 2, naming itself by address (not a roster id).
    const res = await http(`${url('2')}/message`, { json: { from: '192.168.10.11', payload: 'ring-token-1' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'received', node_id: 2 });
    let round: { path: string[]; skipped: string[] } | undefined;
    await waitFor(async () => {
      const status = await http(`${url('1')}/status/ring`);
      const entry = (status.body.log as Array<{ token: string; returned?: { path: string[]; skipped: string[] } }>).find((e) => e.token === 'ring-token-1');
      round = entry?.returned;
      return round !== undefined;
    }, 'the handout token back at node 1');
    expect(round).toEqual({ path: ['1', '2', '3', '4', '5', '1'], skipped: [] });
    for (const id of ids) expect(await logged(id, 'ring-token-1')).toBe(1);
  });

  it("logs the handout's broadcast by POST /message once per node, without starting ring rounds", async () => {
    // Node 1 posts to every other node; only its successor (node 2) takes it as a ring hop.
    for (const id of ['3', '4', '5']) {
      expect((await http(`${url(id)}/message`, { json: { from: '1', payload: 'bcast-1' } })).status).toBe(200);
      // A ring round would have been recorded before the POST was answered.
      const ring = await http(`${url(id)}/status/ring`);
      expect(ring.body.log.some((e: { token: string }) => e.token === 'bcast-1')).toBe(false);
    }
    for (const id of ['3', '4', '5']) expect(await logged(id, 'bcast-1')).toBe(1);
    expect(await logged('1', 'bcast-1')).toBe(0);
  });

  it('broadcasts one-to-all and structured, and every node gets the message', async () => {
    const all = await http(`${url('3')}/broadcast`, { json: { message: 'hello-all' } });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ mode: 'all', acked: [1, 2, 4, 5], missing: [] });
    for (const id of ['1', '2', '4', '5']) expect(await logged(id, 'hello-all')).toBe(1);

    const structured = await http(`${url('4')}/broadcast`, { json: { message: 'hello-ring', mode: 'structured' } });
    expect(structured.status).toBe(200);
    expect(structured.body).toMatchObject({ mode: 'structured', visited: [4, 5, 1, 2, 3], skipped: [] });
  });

  it('delivers a value of the fault-tolerant broadcast to every node', async () => {
    const sent = await http(`${url('3')}/broadcast/values`, { json: { value: { n: 42 } } });
    expect(sent.status).toBe(201);
    await waitFor(async () => {
      const reads = await Promise.all(ids.map((id) => http(`${url(id)}/broadcast/values`)));
      return reads.every((r) => r.status === 200 && r.body.values.some((v: unknown) => JSON.stringify(v) === '{"n":42}'));
    }, 'the value on all five nodes');
  });

  it("spreads a gossip update to every node's states", async () => {
    // A live watcher (not a terminal: a new frame per change) follows the nodes' event streams.
    const watcher = spawnCli(['watch', 'gossip', '--roster', cluster.rosterPath]);
    await watcher.waitForOutput(/converged ✓ \(5 nodes\)/);
    const res = await http(`${url('2')}/update`, { method: 'POST' });
    expect(res.status).toBe(200);
    const version = res.body.version as number;
    expect(version).toBeGreaterThanOrEqual(1);
    await waitFor(async () => {
      const roots = await Promise.all(ids.map((id) => http(`${url(id)}/`)));
      return roots.every((r) => r.body.states?.['2'] === version);
    }, `version ${version} of node 2 on every node`);
    await watcher.waitForOutput(new RegExp(`^5 +0 +${version} +0 +0 +0 +up$`, 'm'));
    watcher.child.kill('SIGINT');
    expect((await watcher.exited).code).toBe(0);
    const once = await runCli(['watch', 'gossip', '--once', '--roster', cluster.rosterPath]);
    expect(once.code).toBe(0);
    expect(once.stdout).toContain('converged ✓ (5 nodes)');
    expect(once.stdout).toMatch(new RegExp(`^3 +0 +${version} +0 +0 +0 +up$`, 'm'));
  });

  it('answers bad requests with 4xx JSON naming the problem', async () => {
    const noMessage = await http(`${url('1')}/broadcast`, { json: { mode: 'all' } });
    expect(noMessage.status).toBe(400);
    expect(noMessage.body.detail).toMatch(/message/);
    const badMode = await http(`${url('1')}/broadcast`, { json: { message: 'x', mode: 'sideways' } });
    expect(badMode.status).toBe(400);
    const extra = await http(`${url('1')}/ring/start`, { json: { token: 't', colour: 'red' } });
    expect(extra.status).toBe(400);
    const unknown = await http(`${url('1')}/status/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('not found');
  });

  it('prints the ring round and the broadcast from the CLI', async () => {
    const ring = await runCli(['ring', 'send', 'cli-token', '--from', '3', '--roster', cluster.rosterPath]);
    expect(ring.code).toBe(0);
    expect(ring.stdout).toContain('path     3 → 4 → 5 → 1 → 2 → 3');
    expect(ring.stdout).toContain('skipped  none');
    expect(ring.stdout).toMatch(/round trip \d+\.\d ms/);
    const bc = await runCli(['broadcast', 'cli-msg', '--roster', cluster.rosterPath]);
    expect(bc.code).toBe(0);
    expect(bc.stdout).toContain('acked    2, 3, 4, 5');
    const watch = await runCli(['watch', 'ring', '--once', '--roster', cluster.rosterPath]);
    expect(watch.code).toBe(0);
    expect(watch.stdout).toContain('last round: cli-token  3 → 4 → 5 → 1 → 2 → 3');
  });

  it('skips a SIGKILLed node and reports it, in the ring and in the broadcast', async () => {
    await cluster.kill('3');
    const res = await http(`${url('1')}/ring/start`, { json: { token: 'after-kill' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ path: [1, 2, 4, 5, 1], skipped: [3] });

    const bc = await http(`${url('1')}/broadcast`, { json: { message: 'after-kill' } });
    expect(bc.body).toMatchObject({ acked: [2, 4, 5], missing: [3] });

    const cli = await runCli(['ring', 'send', '--from', '2', '--roster', cluster.rosterPath]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('path     2 → 4 → 5 → 1 → 2');
    expect(cli.stdout).toContain('skipped  3');
    const watch = await runCli(['watch', 'ring', '--once', '--roster', cluster.rosterPath]);
    expect(watch.stdout).toMatch(/^3 +unreachable \(connection refused\)/m);
  });

  it('stops cleanly on SIGTERM with its protocols running (no timer keeps it alive)', async () => {
    const exits: Array<{ code: number | null; signal: string | null }> = [];
    cluster.onNodeExit((node, code, signal) => {
      if (node.id === '2') exits.push({ code, signal });
    });
    await cluster.kill('2', 'SIGTERM');
    expect(exits).toEqual([{ code: 0, signal: null }]);
  });
});
