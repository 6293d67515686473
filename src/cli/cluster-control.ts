/**
 * The control API of a running `distlab up`: how `distlab chaos kill` (or a
 * student's script) kills and restarts nodes that belong to another
 * process.
 *
 * `up` serves it on 127.0.0.1 at a free port and writes where it is to
 * `cluster.json` beside the roster (`.distlab/cluster.json`):
 *
 *   GET  /nodes              → [{id, url, pid, alive}]
 *   POST /nodes/:id/kill     → SIGKILL the node (waits until it is gone)
 *   POST /nodes/:id/restart  → start it again, same port and data dir (waits until healthy)
 *
 * The nodes stay children of `up`, so Ctrl+C on `up` still stops every one
 * of them, and a node killed by chaos is restarted by `up` itself.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { OperationFailed, UsageError } from './errors.js';
import type { LocalCluster } from './local-cluster.js';

export interface ClusterFile {
  /** Process id of the `distlab up` that owns the nodes. */
  pid: number;
  /** Base URL of its control API. */
  control: string;
  roster: string;
}

export interface NodeInfo {
  id: string;
  url: string;
  pid: number;
  alive: boolean;
}

/** Where the cluster file of a roster lives: beside it. */
export function clusterFilePath(rosterPath: string): string {
  return join(dirname(rosterPath), 'cluster.json');
}

/** Serves the control API for `cluster` and writes the cluster file; `close()` stops both. */
export async function serveClusterControl(cluster: LocalCluster): Promise<{ file: string; close(): Promise<void> }> {
  const app: FastifyInstance = Fastify({ logger: false });
  const list = (): NodeInfo[] => cluster.nodes.map((n) => ({ id: n.id, url: n.url, pid: n.pid, alive: n.alive }));
  const find = (id: string) => {
    const node = cluster.nodes.find((n) => n.id === id);
    if (!node) throw Object.assign(new Error(`no node ${id} (ids: ${cluster.nodes.map((n) => n.id).join(', ')})`), { statusCode: 404 });
    return node;
  };
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    void reply.code(err.statusCode ?? 500).send({ error: err.statusCode === 404 ? 'not found' : 'failed', detail: err.message });
  });
  app.get('/nodes', async () => list());
  app.post<{ Params: { id: string } }>('/nodes/:id/kill', async (req) => {
    const node = find(req.params.id);
    const pid = node.pid;
    await cluster.kill(node.id, 'SIGKILL');
    return { id: node.id, killed: pid };
  });
  app.post<{ Params: { id: string } }>('/nodes/:id/restart', async (req) => {
    const node = find(req.params.id);
    if (node.alive) throw Object.assign(new Error(`node ${node.id} is running (pid ${node.pid})`), { statusCode: 409 });
    await cluster.restart(node.id);
    return { id: node.id, pid: node.pid };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const file = clusterFilePath(cluster.rosterPath);
  const content: ClusterFile = { pid: process.pid, control: `http://127.0.0.1:${port}`, roster: cluster.rosterPath };
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
  return {
    file,
    async close() {
      rmSync(file, { force: true });
      await app.close();
    },
  };
}

/** A client of a running `up`'s control API, found through the cluster file beside `rosterPath`. */
export class ClusterControl {
  private constructor(readonly control: string) {}

  static open(rosterPath: string): ClusterControl {
    const file = clusterFilePath(rosterPath);
    if (!existsSync(file)) throw new UsageError(`no running cluster: ${file} is missing (start one with 'distlab up')`);
    let parsed: Partial<ClusterFile>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ClusterFile>;
    } catch (err) {
      throw new UsageError(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof parsed.control !== 'string' || !/^http:\/\/127\.0\.0\.1:\d+$/.test(parsed.control)) throw new UsageError(`${file} has no loopback control URL`);
    return new ClusterControl(parsed.control);
  }

  nodes(): Promise<NodeInfo[]> {
    return this.call('GET', '/nodes') as Promise<NodeInfo[]>;
  }

  async kill(id: string): Promise<void> {
    await this.call('POST', `/nodes/${encodeURIComponent(id)}/kill`);
  }

  async restart(id: string): Promise<void> {
    await this.call('POST', `/nodes/${encodeURIComponent(id)}/restart`);
  }

  private async call(method: 'GET' | 'POST', path: string): Promise<unknown> {
    let res;
    try {
      res = await request(`${this.control}${path}`, { method, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new OperationFailed(`the cluster's control API at ${this.control} does not answer (is 'distlab up' still running?): ${err instanceof Error ? err.message : String(err)}`);
    }
    const body = (await res.body.json()) as { detail?: string };
    if (res.statusCode >= 400) throw new OperationFailed(`${method} ${path}: ${body.detail ?? res.statusCode}`);
    return body;
  }
}
