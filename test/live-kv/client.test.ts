/**
 * DistlabClient's retry rules against scripted HTTP nodes: a definite
 * failure is retried elsewhere, an indefinite write is not (and is recorded
 * as `info`), a refused connection marks the node dead until a probe finds
 * it back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../src/check/history.js';
import { DistlabClient, KvError } from '../../src/client/client.js';
import { reservePorts } from '../../src/cli/local-cluster.js';
import { waitFor } from '../helpers/cluster.js';

type Handler = (req: IncomingMessage, body: string) => { status: number; json: unknown };

const servers: Server[] = [];
const clients: DistlabClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A scripted node on a free port; `calls` counts the requests it got (health probes apart). */
async function fakeNode(handler: Handler, port = 0): Promise<{ url: string; calls: () => number; server: Server }> {
  let calls = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      calls++;
      const answer = handler(req, body);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  servers.push(server);
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, calls: () => calls, server };
}

const stored = (_req: IncomingMessage, body: string) => ({ status: 200, json: { status: 'stored', ...JSON.parse(body), acks: ['1', '2'], replicas: ['1', '2', '3'], version: '1.0@1' } });
const quorum = (indefinite: boolean) => () => ({ status: 503, json: { error: 'quorum not met', detail: 'x', needed: 2, got: indefinite ? 1 : 0, replicas: ['1', '2', '3'], ...(indefinite ? { indefinite: true } : {}) } });

function client(nodes: string[], history?: HistoryRecorder): DistlabClient {
  // Starts at a random node: the tests below do not depend on which.
  const c = new DistlabClient({ nodes, backoffMs: 1, probeIntervalMs: 50, timeoutMs: 2000, ...(history ? { history } : {}) });
  clients.push(c);
  return c;
}

describe('DistlabClient', () => {
  it('retries a definite failure on another node and succeeds', async () => {
    const refusing = await fakeNode(quorum(false));
    const working = await fakeNode(stored);
    const history = new HistoryRecorder();
    const result = await client([refusing.url, working.url], history).put('k', 'v');
    expect(result).toMatchObject({ node: working.url, acks: ['1', '2'] });
    expect(history.events.map((e) => e.type)).toEqual(['invoke', 'ok']);
  });

  it('reports an indefinite write as such, without retrying it, and records info', async () => {
    const limbo = await fakeNode(quorum(true));
    const other = await fakeNode(stored);
    const history = new HistoryRecorder();
    const c = client([limbo.url, other.url], history);
    // Whichever node it asks first: once the limbo node answered, the write is over.
    let error: unknown;
    for (let i = 0; i < 4 && error === undefined; i++) await c.put(`k${i}`, 'v').catch((e: unknown) => (error = e));
    expect(error).toBeInstanceOf(KvError);
    expect((error as KvError).kind).toBe('indefinite');
    expect(limbo.calls()).toBe(1);
    expect(history.events.at(-1)).toMatchObject({ type: 'info', f: 'put', error: 'quorum not met' });
  });

  it('marks a refusing node dead, fails over, and uses it again once its probe answers', async () => {
    const [freePort] = await reservePorts(1);
    const alive = await fakeNode(stored);
    const deadUrl = `http://127.0.0.1:${freePort}`;
    const c = client([deadUrl, alive.url]);
    for (let i = 0; i < 3; i++) expect((await c.put(`k${i}`, 'v')).node).toBe(alive.url);
    expect(c.deadNodes()).toEqual([deadUrl]);
    const back = await fakeNode(stored, freePort);
    await waitFor(() => c.deadNodes().length === 0, 'the probe to find the node back');
    const used = new Set<string>();
    for (let i = 0; i < 4; i++) used.add((await c.put(`again${i}`, 'v')).node);
    expect(used).toEqual(new Set([alive.url, back.url]));
  });

  it('does not retry bad input, and reads a missing key as null', async () => {
    const node = await fakeNode((req) =>
      req.method === 'GET' ? { status: 404, json: { error: 'not found', detail: "Key 'k' not found on Node 1" } } : { status: 400, json: { error: 'invalid request', detail: 'no' } },
    );
    const c = client([node.url]);
    expect((await c.get('k')).value).toBeNull();
    await expect(c.put('k', 'v')).rejects.toMatchObject({ kind: 'definite', status: 400 });
    expect(node.calls()).toBe(2);
  });

  it('turns an answer that is not a JSON object into an error, not a crash', async () => {
    const node = await fakeNode(() => ({ status: 500, json: null }));
    const c = client([node.url]);
    await expect(c.put('k', 'v')).rejects.toMatchObject({ kind: 'definite', status: 500 });
  });
});
