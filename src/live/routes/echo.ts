/**
 * One node calling another (handout 002): `GET /echo?msg=` answers at once;
 * `GET /call-echo?msg=&target=` calls the target's `/echo` with a timeout and
 * answers 200 with the peer's reply, or 503 when the peer is down or slow.
 *
 * The target is a roster id or a URL; by default it is the next node of the
 * roster (the ring successor). The timeout is what keeps a dead peer from
 * hanging this node's request: a distributed system must bound every wait.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Agent } from 'undici';
import { HttpError } from '../http-error.js';
import { findNode, jsonId, nextInRing } from '../roster.js';

const EchoQuery = Type.Object({ msg: Type.String({ maxLength: 4096 }) }, { additionalProperties: false });

const CallEchoQuery = Type.Object(
  {
    msg: Type.String({ maxLength: 4096 }),
    /** A roster id or a base URL such as http://127.0.0.1:5002. */
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

/** Peer answers are small; a larger one is refused rather than buffered. */
const MAX_PEER_ANSWER_BYTES = 64 * 1024;

export async function echoRoutes(app: FastifyInstance): Promise<void> {
  const node = app.distlab;
  const nodeId = jsonId(node.id);
  // Keep-alive connections to peers, shared by all calls of this node;
  // undici is loaded by the first call, so a node starts without it.
  let peers: Agent | undefined;
  app.addHook('onClose', async () => peers?.close());

  app.get<{ Querystring: Static<typeof EchoQuery> }>('/echo', { schema: { querystring: EchoQuery } }, async (request) => ({
    msg: request.query.msg,
    node_id: nodeId,
  }));

  app.get<{ Querystring: Static<typeof CallEchoQuery> }>('/call-echo', { schema: { querystring: CallEchoQuery } }, async (request) => {
    const { msg, target } = request.query;
    const timeoutMs = request.query.timeout_ms ?? node.callTimeoutMs;
    const peer = resolveTarget(target);
    const url = `${peer.url}/echo?msg=${encodeURIComponent(msg)}`;
    const started = performance.now();
    try {
      const { Agent, request: httpRequest } = await import('undici');
      peers ??= new Agent({ keepAliveTimeout: 10_000, connections: 16 });
      const res = await httpRequest(url, { dispatcher: peers, signal: AbortSignal.timeout(timeoutMs) });
      const text = await readLimited(res.body, MAX_PEER_ANSWER_BYTES);
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      if (res.statusCode !== 200) {
        throw new HttpError(502, 'bad gateway', `${peer.name} answered ${res.statusCode} to /echo`, { target: peer.label });
      }
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        throw new HttpError(502, 'bad gateway', `${peer.name} answered /echo with something that is not JSON`, { target: peer.label });
      }
      return { node_id: nodeId, target: peer.label, url: peer.url, latency_ms: latencyMs, reply };
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const reason = describeFailure(err, timeoutMs);
      node.logger.error({ target: peer.label, url: peer.url, reason }, `call-echo: ${peer.name} unavailable: ${reason}`);
      const who = peer.name === peer.url ? peer.url : `${peer.name} (${peer.url})`;
      throw new HttpError(503, 'peer unavailable', `${who} ${reason}`, { target: peer.label });
    }
  });

  /** A roster id, a URL, or (when absent) the next node in the roster. */
  function resolveTarget(target: string | undefined): { url: string; label: string | number; name: string } {
    if (target === undefined) {
      const next = nextInRing(node.roster, node.id);
      if (!next) throw new HttpError(400, 'invalid request', `node ${node.id} is not in its roster, so it has no next node; pass ?target=`);
      return { url: next.url, label: jsonId(next.id), name: `node ${next.id}` };
    }
    const byId = findNode(node.roster, target);
    if (byId) return { url: byId.url, label: jsonId(byId.id), name: `node ${byId.id}` };
    let parsed: URL;
    try {
      parsed = new URL(target);
    } catch {
      const ids = node.roster.map((n) => n.id).join(', ');
      throw new HttpError(400, 'invalid request', `target '${target}' is neither a roster id (${ids}) nor a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new HttpError(400, 'invalid request', `target '${target}' must be an http:// or https:// URL`);
    }
    return { url: parsed.origin, label: parsed.origin, name: parsed.origin };
  }
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new HttpError(502, 'bad gateway', `the peer's answer exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `did not answer within ${timeoutMs} ms`;
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED') return 'refused the connection (is it running?)';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'closed the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'cannot be resolved';
  return `cannot be reached (${code ?? e.message ?? String(err)})`;
}
