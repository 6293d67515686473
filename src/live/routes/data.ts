/**
 * The handouts' key-value routes: `POST /data {key, value}` and
 * `GET /data/:key`. Each data request first burns CPU for the node's load
 * factor (the scaling journey), then goes to the node's DataStore.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { burnCpu } from '../cpu-load.js';
import { HttpError } from '../http-error.js';
import { jsonId } from '../roster.js';

export const MAX_KEY_LENGTH = 1024;

export const DataBody = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
    value: Type.String(),
  },
  { additionalProperties: false },
);
export type DataBody = Static<typeof DataBody>;

const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }) });

export async function dataRoutes(app: FastifyInstance): Promise<void> {
  const node = app.distlab;
  const nodeId = jsonId(node.id);

  // Before burning, the request yields once to the event loop, so requests that
  // arrived meanwhile are admitted (and counted in X-Active-Requests) and queue
  // for the CPU, as they would for a busy Python worker.
  const burn = async (): Promise<void> => {
    if (node.loadFactor <= 0) return;
    await new Promise((resolve) => setImmediate(resolve));
    const ms = burnCpu(node.loadFactor);
    if (ms > 0) node.logger.debug({ load_factor: node.loadFactor, ms: Math.round(ms) }, `cpu load: fib(${node.loadFactor}) took ${ms.toFixed(1)} ms`);
  };

  app.post<{ Body: DataBody }>('/data', { schema: { body: DataBody } }, async (request) => {
    await burn();
    const { key, value } = request.body;
    await node.store.put(key, value);
    return { status: 'stored', node_id: nodeId, key, value };
  });

  app.get<{ Params: Static<typeof KeyParams> }>('/data/:key', { schema: { params: KeyParams } }, async (request) => {
    const { key } = request.params;
    const value = await node.store.get(key);
    if (value === undefined) throw new HttpError(404, 'not found', `Key '${key}' not found on Node ${node.id}`);
    await burn();
    return { node_id: nodeId, key, value };
  });
}
