/**
 * HTTP adapters for membership: the handout's registry (Module 11) and the
 * status of every protocol.
 *
 * - `POST /register {id|node_id, port|url}` — a node joins the registry (the
 *   roster's first node); `port` alone means "at the caller's address". One
 *   of `port` and `url` is required; a roster node's entry cannot be pointed
 *   anywhere but its roster URL (409).
 * - `POST /heartbeat/:id` — 404 when the registry does not know the node (or
 *   it expired): register again.
 * - `GET /nodes[?all=1]` — the live rows (the handout deletes dead ones);
 *   `all=1` shows the dead too.
 * - `GET /status/:protocol` — a protocol's `status()` as JSON (the SWIM view
 *   of the members is `GET /status/swim`).
 *
 * Asked at a node that is not the registry, the registry routes answer 501
 * naming the registry and its URL.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Protocol } from '../../protocols/env.js';
import type { RegistryEntry } from '../../protocols/registry.js';
import type { LiveHost } from '../host.js';
import { HttpError } from '../http-error.js';
import { ask } from '../protocol-http.js';
import { jsonId } from '../roster.js';

const Id = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0 })]);
const RegisterBody = Type.Object(
  {
    id: Type.Optional(Id),
    node_id: Type.Optional(Id),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
const HeartbeatParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const NodesQuery = Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const StatusParams = Type.Object({ protocol: Type.String({ minLength: 1, maxLength: 64 }) });

/** Where a registering node listens: its URL, or the caller's address with its port (undefined: neither given). */
function registrationUrl(body: Static<typeof RegisterBody>, callerIp: string): string | undefined {
  if (body.url !== undefined) {
    try {
      return new URL(body.url).origin;
    } catch {
      throw new HttpError(400, 'invalid request', `body field 'url': '${body.url}' is not a URL`);
    }
  }
  if (body.port === undefined) return undefined;
  const ip = callerIp.startsWith('::ffff:') ? callerIp.slice(7) : callerIp;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${body.port}`;
}

function row(entry: RegistryEntry): Record<string, unknown> {
  const port = entry.url === null ? null : Number(new URL(entry.url).port) || null;
  return { id: jsonId(entry.node_id), node_id: jsonId(entry.node_id), url: entry.url, port, status: entry.status, last_seen_ms_ago: entry.last_seen_ms_ago };
}

export async function membershipRoutes(app: FastifyInstance, opts: { host: LiveHost; protocols: readonly string[] }): Promise<void> {
  const { host } = opts;
  const node = app.distlab;
  const nodeId = jsonId(node.id);

  // A registry route asked of a member: name the registry and where it is.
  const registryOnly = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof HttpError && err.statusCode === 501 && typeof err.extra.registry === 'string') {
        const registry = node.roster.find((n) => n.id === err.extra.registry);
        throw new HttpError(501, 'not the registry', `node ${node.id} is not the registry; ask node ${err.extra.registry}${registry ? ` at ${registry.url}` : ''}`, {
          registry: jsonId(err.extra.registry),
          registry_url: registry?.url ?? null,
        });
      }
      throw err;
    }
  };

  app.post<{ Body: Static<typeof RegisterBody> }>('/register', { schema: { body: RegisterBody } }, async (request) => {
    const raw = request.body.node_id ?? request.body.id;
    if (raw === undefined) throw new HttpError(400, 'invalid request', "body field 'id' (or 'node_id') is required");
    const url = registrationUrl(request.body, request.ip);
    if (url === undefined) throw new HttpError(400, 'invalid request', `body field 'port' (or 'url') is required: where node ${raw} listens`);
    // A roster node registers itself, at its roster URL; a client must not point its entry elsewhere.
    const member = node.roster.find((n) => n.id === String(raw));
    if (member !== undefined && !sameAddress(member.url, url)) {
      throw new HttpError(409, 'conflict', `node ${member.id} is a roster node at ${member.url}; its registry entry cannot be pointed at ${url}`);
    }
    const r = await registryOnly(() => ask(host, { type: 'registry.register', node_id: String(raw), url }, 'registry.register_ok'));
    return { status: 'registered', node_id: jsonId(String(r.node_id)), url };
  });

  app.post<{ Params: Static<typeof HeartbeatParams> }>('/heartbeat/:id', { schema: { params: HeartbeatParams } }, async (request) => {
    const r = await registryOnly(() => ask(host, { type: 'registry.heartbeat', node_id: request.params.id }, 'registry.heartbeat_ok'));
    return { status: 'ok', node_id: jsonId(String(r.node_id)) };
  });

  app.get<{ Querystring: Static<typeof NodesQuery> }>('/nodes', { schema: { querystring: NodesQuery } }, async (request) => {
    const r = await registryOnly(() => ask(host, { type: 'registry.nodes' }, 'registry.nodes_ok'));
    const all = (r.nodes as RegistryEntry[]).map(row);
    const nodes = request.query.all ? all : all.filter((n) => n.status === 'alive');
    return { registry: nodeId, count: nodes.length, nodes };
  });

  app.get<{ Params: Static<typeof StatusParams> }>('/status/:protocol', { schema: { params: StatusParams } }, async (request) => {
    const name = request.params.protocol;
    const protocol = opts.protocols.includes(name) ? host.runtime.protocol<Protocol & { status(): unknown }>(name) : undefined;
    if (!protocol) throw new HttpError(404, 'not found', `no protocol '${name}' on node ${node.id} (known: ${opts.protocols.join(', ')})`);
    return protocol.status();
  });
}

/** Whether two URLs name the same listener: same scheme and port, and the same host or both loopback (`localhost` is 127.0.0.1). */
function sameAddress(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  const loopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return x.protocol === y.protocol && x.port === y.port && (x.hostname === y.hostname || (loopback(x.hostname) && loopback(y.hostname)));
}
