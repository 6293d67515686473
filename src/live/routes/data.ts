/**
 * The handouts' key-value routes, replicated: `POST /data {key, value}`,
 * `GET /data/:key` and `DELETE /data/:key`, each with an optional quorum in
 * the query string (`?w=` for writes and deletes, `?r=` for reads).
 *
 * Answers keep the handout's shape — `{status: 'stored', node_id, key,
 * value}`, `{node_id, key, value}`, 404 `{detail: "Key 'k' not found on
 * Node 1"}` — plus what the node's DataStore adds (with the replicated
 * store: `acks`/`from`, `replicas`, `version`). Each data request first
 * burns CPU for the node's load factor (the scaling journey).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { burnCpu } from '../cpu-load.js';
import { HttpError } from '../http-error.js';
import { jsonId } from '../roster.js';

export const MAX_KEY_LENGTH = 1024;

/**
 * The largest `POST /data` body, whatever `--body-limit` allows elsewhere.
 * Every replica gets the value in one node-to-node envelope, and a node
 * takes envelopes of at most MAX_FRAME_BYTES (4 MiB): a value the cluster
 * could not copy to its replicas must be refused at the door, not stored on
 * one node and lost to the rest.
 */
export const MAX_DATA_BODY_BYTES = 1024 * 1024;

export const DataBody = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
    value: Type.String(),
  },
  { additionalProperties: false },
);
export type DataBody = Static<typeof DataBody>;

const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }) });
const Quorum = Type.Integer({ minimum: 1, maximum: 100 });
const WriteQuery = Type.Object({ w: Type.Optional(Quorum) }, { additionalProperties: false });
const ReadQuery = Type.Object({ r: Type.Optional(Quorum) }, { additionalProperties: false });

export async function dataRoutes(app: FastifyInstance): Promise<void> {
  const node = app.distlab;
  const nodeId = jsonId(node.id);

  // Before burning, the request yields once to the event loop, so requests that
  // arrived meanwhile are admitted (and counted in X-Active-Requests) and queue
  // for the CPU, as they would for a busy Python worker.
  // (A callback hook, not an async one: with no load factor, the usual case, it costs a function call.)
  const burn = (_request: unknown, _reply: unknown, done: (err?: Error) => void): void => {
    if (node.loadFactor <= 0) return done();
    setImmediate(() => {
      try {
        const ms = burnCpu(node.loadFactor);
        if (ms > 0) node.logger.debug({ load_factor: node.loadFactor, ms: Math.round(ms) }, `cpu load: fib(${node.loadFactor}) took ${ms.toFixed(1)} ms`);
      } catch (err) {
        return done(err instanceof Error ? err : new Error(String(err)));
      }
      done();
    });
  };
  // Registered inside this plugin, so only the data routes pay it.
  app.addHook('preHandler', burn);
  const notFound = (key: string) => new HttpError(404, 'not found', `Key '${key}' not found on Node ${node.id}`);

  const bodyLimit = Math.min(app.initialConfig.bodyLimit ?? MAX_DATA_BODY_BYTES, MAX_DATA_BODY_BYTES);
  app.post<{ Body: DataBody; Querystring: Static<typeof WriteQuery> }>('/data', { bodyLimit, schema: { body: DataBody, querystring: WriteQuery } }, async (request) => {
    const { key, value } = request.body;
    const fields = await node.store.put(key, value, { w: request.query.w });
    return { status: 'stored', node_id: nodeId, key, value, ...fields };
  });

  app.get<{ Params: Static<typeof KeyParams>; Querystring: Static<typeof ReadQuery> }>(
    '/data/:key',
    { schema: { params: KeyParams, querystring: ReadQuery } },
    async (request) => {
      const { key } = request.params;
      const found = await node.store.get(key, { r: request.query.r });
      if (found === undefined) throw notFound(key);
      return { node_id: nodeId, key, value: found.value, ...found.fields };
    },
  );

  app.delete<{ Params: Static<typeof KeyParams>; Querystring: Static<typeof WriteQuery> }>(
    '/data/:key',
    { schema: { params: KeyParams, querystring: WriteQuery } },
    async (request) => {
      const { key } = request.params;
      const fields = await node.store.delete(key, { w: request.query.w });
      if (fields === undefined) throw notFound(key);
      return { status: 'deleted', node_id: nodeId, key, ...fields };
    },
  );
}
