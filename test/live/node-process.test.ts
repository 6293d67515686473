/**
 * Real node processes on free loopback ports, spoken to over HTTP.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { http, pidAlive, startCluster, startNode, stopAll, waitFor } from '../helpers/cluster.js';

afterEach(stopAll);

describe('a cluster of real nodes', () => {
  it('serves every route of the handouts over HTTP', async () => {
    const cluster = await startCluster({ nodes: 3 });
    const [n1, n2] = cluster.nodes;
    const root = await http(`${n1!.url}/`);
    expect(root.status).toBe(200);
    expect(root.body).toMatchObject({ team: 'team1', host: '127.0.0.1', counter: 1, id: 1, node_id: 1, message: 'Node is running' });
    // ... plus the election's and gossip's fields (test/live-protocols)
    expect(Object.keys(root.body)).toEqual(expect.arrayContaining(['leader_id', 'is_leader', 'election_in_progress', 'states']));
    expect(root.headers['x-active-requests']).toBe('1');
    expect((await http(`${n2!.url}/ping`)).body).toEqual({ status: 'pong' });
    expect((await http(`${n2!.url}/health`)).body).toEqual({ status: 'ok', node_id: 2, active_requests: 1 });
    expect((await http(`${n2!.url}/stats`)).body).toMatchObject({ node_id: 2, load_factor: 0, workers: 1, pid: n2!.pid });

    // The handout's curl lines, against node 1
    const stored = await http(`${n1!.url}/data`, { json: { key: 'user_123', value: 'Alice' } });
    expect(stored.body).toMatchObject({ status: 'stored', node_id: 1, key: 'user_123', value: 'Alice' });
    expect((await http(`${n1!.url}/data/user_123`)).body).toMatchObject({ node_id: 1, key: 'user_123', value: 'Alice' });
    // ... replicated: any node answers (test/live-kv has the rest)
    expect((await http(`${n2!.url}/data/user_123`)).body).toMatchObject({ node_id: 2, key: 'user_123', value: 'Alice' });
    const missing = await http(`${n2!.url}/data/nobody`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'not found', detail: "Key 'nobody' not found on Node 2" });

    expect((await http(`${n1!.url}/message`, { json: { from: '192.168.10.11', payload: 'ring-token-1' } })).status).toBe(200);
    expect((await http(`${n1!.url}/messages`)).body.messages).toMatchObject([{ seq: 1, from: '192.168.10.11', payload: 'ring-token-1' }]);
    expect((await http(`${n1!.url}/echo?msg=test`)).body).toEqual({ msg: 'test', node_id: 1 });

    // call-echo: by default the next node in the roster, or a named one
    const viaNext = await http(`${n1!.url}/call-echo?msg=test`);
    expect(viaNext.status).toBe(200);
    expect(viaNext.body).toMatchObject({ node_id: 1, target: 2, reply: { msg: 'test', node_id: 2 } });
    const viaId = await http(`${n1!.url}/call-echo?msg=hi&target=3`);
    expect(viaId.body).toMatchObject({ target: 3, reply: { msg: 'hi', node_id: 3 } });
    const viaUrl = await http(`${n1!.url}/call-echo?msg=hi&target=${encodeURIComponent(n2!.url)}`);
    expect(viaUrl.body).toMatchObject({ reply: { node_id: 2 } });

    const notFound = await http(`${n1!.url}/no/such/route`);
    expect(notFound.status).toBe(404);
    expect(notFound.body).toEqual({ error: 'not found', detail: 'no route GET /no/such/route' });
  });

  it('call-echo answers 503 once the target was killed with SIGKILL, and the node keeps serving', async () => {
    const cluster = await startCluster({ nodes: 2 });
    const [n1, n2] = cluster.nodes;
    expect((await http(`${n1!.url}/call-echo?msg=x`)).status).toBe(200);
    const pid = n2!.pid;
    await cluster.kill('2', 'SIGKILL');
    expect(pidAlive(pid)).toBe(false);
    const res = await http(`${n1!.url}/call-echo?msg=x`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'peer unavailable', target: 2 });
    expect(res.body.detail).toMatch(/^node 2 \(http:\/\/127\.0\.0\.1:\d+\) /);
    expect((await http(`${n1!.url}/health`)).status).toBe(200);

    // and recovers when the peer comes back on the same port
    await cluster.restart('2');
    expect((await http(`${n1!.url}/call-echo?msg=back`)).body).toMatchObject({ reply: { msg: 'back', node_id: 2 } });
  });

  it('call-echo answers 503 after its timeout when the peer accepts but never answers', async () => {
    const node = await startNode(['--call-timeout', '300ms']);
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as { port: number }).port;
      const res = await http(`${node.url}/call-echo?msg=x&target=${encodeURIComponent(`http://127.0.0.1:${port}`)}`);
      expect(res.status).toBe(503);
      expect(res.body.detail).toBe(`http://127.0.0.1:${port} did not answer within 300 ms`);
      // the per-request timeout overrides the node's default
      const quick = await http(`${node.url}/call-echo?msg=x&timeout_ms=50&target=${encodeURIComponent(`http://127.0.0.1:${port}`)}`);
      expect(quick.body.detail).toMatch(/within 50 ms/);
      expect(node.output()).toMatch(/call-echo: http:\/\/127\.0\.0\.1:\d+ unavailable: did not answer within 300 ms/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('reports requests in flight in X-Active-Requests when requests overlap', async () => {
    // fib(32) keeps the single process busy while the other requests queue up behind it
    const node = await startNode(['--load-factor', '32']);
    // Eight connections opened first, so the eight POSTs leave at the same moment.
    const pool = new Pool(node.url, { connections: 8 });
    try {
      await Promise.all(Array.from({ length: 8 }, () => pool.request({ path: '/ping', method: 'GET' }).then((r) => r.body.dump())));
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          pool.request({ path: '/data', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: `k${i}`, value: 'v' }) }),
        ),
      );
      await Promise.all(answers.map((a) => a.body.dump()));
      expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
      const active = answers.map((a) => Number(a.headers['x-active-requests']));
      expect(active.every((n) => Number.isInteger(n) && n >= 1 && n <= 8)).toBe(true);
      expect(Math.max(...active), `X-Active-Requests seen: ${active.join(', ')}`).toBeGreaterThan(1);
    } finally {
      await pool.close();
    }
    expect((await http(`${node.url}/stats`)).body).toMatchObject({ load_factor: 32, active_requests: 1 });
  });

  it('refuses bad input over a real socket without dying', async () => {
    const node = await startNode(['--body-limit', '64']);
    const malformed = await http(`${node.url}/data`, { body: '{"key": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('malformed JSON');
    const tooBig = await http(`${node.url}/data`, { json: { key: 'k', value: 'x'.repeat(100) } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.detail).toMatch(/limit of 64 bytes/);
    const wrongType = await http(`${node.url}/message`, { json: { from: 1, payload: 'p' } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toMatch(/body field 'from': expected string/);
    expect((await http(`${node.url}/health`)).status).toBe(200);
    expect(node.alive).toBe(true);
  });

  it('--workers 2 serves from more than one process and stops them all', async () => {
    const node = await startNode(['--workers', '2']);
    const pids = new Set<number>();
    await waitFor(async () => {
      // a fresh connection each time: the primary hands out connections to workers in turn
      const stats = await Promise.all(Array.from({ length: 4 }, () => http(`${node.url}/stats`, { newConnection: true })));
      for (const s of stats) {
        expect(s.body.workers).toBe(2);
        pids.add(s.body.pid);
      }
      return pids.size >= 2;
    }, 'answers from two worker pids');
    expect(pids.has(node.pid)).toBe(false); // the primary only supervises
    const workerPids = [...pids];
    await node.process.kill('SIGTERM');
    await waitFor(() => !node.alive && workerPids.every((p) => !pidAlive(p)), 'the primary and its workers to exit');
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const node = await startNode(['--log-level', 'info']);
    const exit = new Promise<number | null>((r) => node.process.once('exit', (code) => r(code)));
    node.process.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(node.output()).toMatch(/stopping \(SIGTERM\)/);
  });
});
