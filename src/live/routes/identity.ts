/**
 * Who is this node and how is it doing: `GET /`, `/ping`, `/health`, `/stats`.
 *
 * `GET /` is the handouts' identity call (team, host, a counter of visits);
 * `/ping` is their liveness check; `/health` and `/stats` are the scaling
 * journey's, with the requests in flight.
 */
import type { FastifyInstance } from 'fastify';
import { jsonId } from '../roster.js';

export async function identityRoutes(app: FastifyInstance): Promise<void> {
  const node = app.distlab;
  const nodeId = jsonId(node.id);
  const host = new URL(node.self.url).hostname;

  app.get('/', async () => ({
    team: node.self.team,
    host,
    counter: node.counter.visit(),
    id: nodeId,
    node_id: nodeId,
    message: 'Node is running',
    ...node.extraFields('root'),
  }));

  app.get('/ping', async () => ({ status: 'pong' }));

  app.get('/health', async () => ({ status: 'ok', node_id: nodeId, active_requests: node.activeRequests() }));

  app.get('/stats', async () => ({
    node_id: nodeId,
    team: node.self.team,
    active_requests: node.activeRequests(),
    load_factor: node.loadFactor,
    workers: node.workers,
    pid: process.pid,
    uptime_s: Math.round((performance.now() - node.startedAt) / 100) / 10,
    requests_total: node.requestsTotal(),
    counter: node.counter.value,
    messages: node.messages.size,
    rss_mb: Math.round(process.memoryUsage.rss() / 1048576),
    ...node.extraFields('stats'),
  }));
}
