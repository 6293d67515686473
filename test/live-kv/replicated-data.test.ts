/**
 * The replicated, durable /data on real node processes: durability across
 * SIGKILL, a minority partition that cannot write, catch-up of a restarted
 * node without client traffic, bad input.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/cli/local-cluster.js';
import { http, startCluster, stopAll, tempDir, waitFor } from '../helpers/cluster.js';

afterEach(stopAll);

/** A cluster whose nodes keep their data on disk, each in its own directory. */
async function durableCluster(nodes: number): Promise<LocalCluster> {
  const root = tempDir('distlab-kv-');
  return startCluster({ nodes, nodeArgs: (id) => ['--data-dir', join(root, id)] });
}

const url = (cluster: LocalCluster, id: string) => cluster.node(id).url;
const others = (cluster: LocalCluster, id: string) => cluster.nodes.map((n) => n.id).filter((n) => n !== id);

/**
 * Writes until the cluster says "stored". On a loaded machine a fresh
 * cluster may miss the 1 s request timeout once (503, an honest answer);
 * these tests are about what happens to a write once it is acknowledged.
 */
async function putUntilStored(base: string, key: string, value: string, query = ''): Promise<any> {
  let last: any;
  await waitFor(async () => {
    last = await http(`${base}/data${query}`, { json: { key, value } });
    return last.status === 200;
  }, `${key}=${value} to be stored`, 15_000);
  return last.body;
}

/** Cuts `id` off from every other node, both ways (its own /admin/faults is enough). */
async function isolate(cluster: LocalCluster, id: string): Promise<void> {
  const peers = others(cluster, id);
  const res = await http(`${url(cluster, id)}/admin/faults`, { json: { blockTo: peers, blockFrom: peers } });
  expect(res.status).toBe(200);
}

describe('replicated /data on a live cluster', { timeout: 90_000 }, () => {
  it('keeps an acknowledged write through SIGKILL and restart of a replica', async () => {
    const cluster = await durableCluster(3);
    const put = await putUntilStored(url(cluster, '1'), 'survivor', 'still here', '?w=3');
    expect(put).toMatchObject({ status: 'stored', node_id: 1, key: 'survivor', value: 'still here' });
    expect([...put.acks].sort()).toEqual(['1', '2', '3']);

    await cluster.kill('2');
    await cluster.restart('2');
    // Only node 2 is left: what it answers comes from its own disk.
    await cluster.kill('1');
    await cluster.kill('3');
    const got = await http(`${url(cluster, '2')}/data/survivor?r=1`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ node_id: 2, key: 'survivor', value: 'still here', from: ['2'] });
    expect(got.body.version).toBe(put.version);
  });

  it('refuses writes on the minority side of a partition, with needed and got, while the majority writes', async () => {
    const cluster = await durableCluster(3);
    await isolate(cluster, '1');
    const minority = await http(`${url(cluster, '1')}/data`, { json: { key: 'split', value: 'minority' } });
    expect(minority.status).toBe(503);
    expect(minority.body).toMatchObject({ error: 'quorum not met', needed: 2 });
    expect(minority.body.got).toBeLessThan(2);
    expect([...minority.body.replicas].sort()).toEqual(['1', '2', '3']);

    const majority = await putUntilStored(url(cluster, '2'), 'split', 'majority');
    expect([...majority.acks].sort()).toEqual(['2', '3']);
    const read = await http(`${url(cluster, '3')}/data/split`);
    expect(read.body.value).toBe('majority');
  });

  it('brings a restarted node up to date by hinted handoff and anti-entropy, without client traffic', async () => {
    const cluster = await durableCluster(4);
    await cluster.kill('4');
    const written = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const key = `catchup-${i}`;
      const stored = await putUntilStored(url(cluster, String((i % 3) + 1)), key, `v${i}`);
      if (stored.replicas.includes('4')) written.set(key, `v${i}`);
    }
    expect(written.size).toBeGreaterThan(0);
    // The coordinators handed node 4's copies to other nodes as hints.
    const hintsHeld = async () => {
      const counts = await Promise.all(others(cluster, '4').map(async (id) => (await http(`${url(cluster, id)}/status/kv`)).body.hints as number));
      return counts.reduce((a, b) => a + b, 0);
    };
    await waitFor(async () => (await hintsHeld()) > 0, 'hints for node 4');

    await cluster.restart('4');
    // No client request from here on: node 4 must get the keys it replicates by itself.
    await waitFor(async () => (await http(`${url(cluster, '4')}/status/kv`)).body.keys === written.size, `node 4 to hold its ${written.size} keys`, 30_000);
    await waitFor(async () => (await hintsHeld()) === 0, 'every hint delivered', 30_000);
    await isolate(cluster, '4');
    for (const [key, value] of written) {
      const res = await http(`${url(cluster, '4')}/data/${key}?r=1`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ key, value, from: ['4'] });
    }
  });

  it('replicates a value up to the /data limit to every replica, and refuses a larger one whatever --body-limit says', async () => {
    const cluster = await startCluster({ nodes: 3, nodeArgs: () => ['--body-limit', String(4 * 1024 * 1024)] });
    const base = url(cluster, '1');
    const big = 'x'.repeat(1024 * 1024 - 100);
    const put = await putUntilStored(base, 'big', big, '?w=3');
    expect([...put.acks].sort()).toEqual(['1', '2', '3']);
    for (const id of ['1', '2', '3']) {
      const res = await http(`${url(cluster, id)}/data/big?r=3`);
      expect(res.status).toBe(200);
      expect(res.body.value).toBe(big);
    }
    const tooBig = await http(`${base}/data`, { json: { key: 'bigger', value: 'x'.repeat(1024 * 1024) } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toEqual({ error: 'body too large', detail: 'the request body exceeds the limit of 1048576 bytes' });
  });

  it('answers bad input with 4xx JSON', async () => {
    const cluster = await startCluster({ nodes: 3 });
    const base = url(cluster, '1');
    const cases: Array<[string, Parameters<typeof http>[1]]> = [
      ['/data', { json: { key: 'k' } }],
      ['/data', { json: { key: '', value: 'v' } }],
      ['/data', { json: { key: 'k', value: 3 } }],
      ['/data?w=0', { json: { key: 'k', value: 'v' } }],
      ['/data?w=two', { json: { key: 'k', value: 'v' } }],
      ['/data?r=1', { json: { key: 'k', value: 'v' } }],
      ['/data', { body: '{"key":', headers: { 'content-type': 'application/json' } }],
      ['/data/k?r=9', {}],
      ['/data/k?w=1', {}],
      ['/data/k?w=9', { method: 'DELETE' }],
    ];
    for (const [path, init] of cases) {
      const res = await http(`${base}${path}`, init);
      expect(res.status, `${init?.method ?? (init?.json || init?.body ? 'POST' : 'GET')} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.error).toBe('string');
      expect(typeof res.body.detail).toBe('string');
    }
    const missing = await http(`${base}/data/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe("Key 'nothing-here' not found on Node 1");
  });
});
