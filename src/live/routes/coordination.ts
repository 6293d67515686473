/**
 * HTTP adapters for the ring, the broadcasts, leader election and gossip:
 * each route turns a request into a client operation on the node's
 * protocols (`host.request`) and the reply into JSON, so the handouts' curl
 * lines and clients drive the very handlers the simulator drives.
 *
 * - `POST /ring/start {token?}` — a ring round from this node; answers when
 *   the token is back: the path, the skipped nodes, the round trip.
 * - `POST /broadcast {message, mode?}` — one-to-all (`all`, default) or the
 *   structured broadcast that returns with the visited list (`structured`).
 * - `POST /broadcast/values {value}`, `GET /broadcast/values` — the
 *   fault-tolerant broadcast of many values.
 * - `POST /election {from?}`, `POST /coordinator {leader_id}` and the fields
 *   `leader_id`, `is_leader`, `election_in_progress` of `GET /` — Module 08.
 * - `POST /update`, `POST /gossip {states}` and `states` in `GET /` — Module 07.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Body } from '../../protocols/envelope.js';
import { compareIds } from '../../protocols/envelope.js';
import type { Election } from '../../protocols/election.js';
import type { Gossip } from '../../protocols/gossip.js';
import { DEFAULT_RING_CONFIG } from '../../protocols/ring.js';
import type { LiveHost } from '../host.js';
import { HttpError } from '../http-error.js';
import { ask } from '../protocol-http.js';
import { jsonId } from '../roster.js';

const Id = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0 })]);
/** For routes whose body is optional (`curl -X POST .../update`): no body reads as `{}`. */
async function noBodyAsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

const RingStartBody = Type.Object({ token: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })) }, { additionalProperties: false });
const BroadcastBody = Type.Object(
  { message: Type.Unknown(), mode: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('structured')])) },
  { additionalProperties: false },
);
const ValueBody = Type.Object({ value: Type.Unknown() }, { additionalProperties: false });
const ElectionBody = Type.Object({ from: Type.Optional(Id), sender_id: Type.Optional(Id) }, { additionalProperties: false });
const CoordinatorBody = Type.Object({ leader_id: Type.Optional(Id), leader: Type.Optional(Id) }, { additionalProperties: false });
const EmptyBody = Type.Object({}, { additionalProperties: false });
const GossipBody = Type.Object(
  {
    states: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0 })),
    // Who is gossiping: accepted from the handout's clients, not needed by the merge.
    from: Type.Optional(Id),
    sender_id: Type.Optional(Id),
  },
  { additionalProperties: false },
);

/** Ids as the handouts show them: integers as numbers. */
function ids(list: unknown): unknown {
  return Array.isArray(list) ? list.map((i) => (typeof i === 'string' ? jsonId(i) : i)) : list;
}

function idOrNull(id: unknown): unknown {
  return typeof id === 'string' ? jsonId(id) : null;
}

export async function coordinationRoutes(app: FastifyInstance, opts: { host: LiveHost }): Promise<void> {
  const { host } = opts;
  const node = app.distlab;
  const nodeId = jsonId(node.id);
  const electionOf = (): Election => host.runtime.protocol<Election>('election') as Election;
  const gossipOf = (): Gossip => host.runtime.protocol<Gossip>('gossip') as Gossip;
  // The origin's own bound on a round comes back as a timeout answer; wait a little longer than it.
  const ringWaitMs = (node.roster.length + 1) * DEFAULT_RING_CONFIG.hopAttempts * DEFAULT_RING_CONFIG.hopTimeoutMs + 2_000;

  node.extendRoot(() => {
    const s = electionOf().status();
    return { leader_id: idOrNull(s.leader_id), is_leader: s.is_leader, election_in_progress: s.election_in_progress, states: gossipOf().status().states };
  });

  // ---- ring -------------------------------------------------------------

  app.post<{ Body: Static<typeof RingStartBody> }>('/ring/start', { schema: { body: RingStartBody }, preValidation: noBodyAsEmpty }, async (request) => {
    const body: Body = { type: 'ring.start', ...(request.body.token !== undefined && { token: request.body.token }) };
    const r = await ask(host, body, 'ring.start_ok', ringWaitMs);
    return { node_id: nodeId, token: r.token, round: r.round, path: ids(r.path), visited: ids(r.visited), skipped: ids(r.skipped), rtt_ms: r.rtt_ms };
  });

  // ---- broadcasts -------------------------------------------------------

  app.post<{ Body: Static<typeof BroadcastBody> }>('/broadcast', { schema: { body: BroadcastBody } }, async (request) => {
    const { message, mode = 'all' } = request.body;
    if (mode === 'structured') {
      if (typeof message !== 'string') throw new HttpError(400, 'invalid request', "a structured broadcast's 'message' must be a string");
      const r = await ask(host, { type: 'structured_broadcast.start', message }, 'structured_broadcast.start_ok', ringWaitMs);
      return { node_id: nodeId, mode, message: r.message, round: r.round, visited: ids(r.visited), path: ids(r.path), skipped: ids(r.skipped), rtt_ms: r.rtt_ms };
    }
    const r = await ask(host, { type: 'broadcast_all.send', message }, 'broadcast_all.send_ok');
    return { node_id: nodeId, mode, id: r.id, message: r.message, acked: ids(r.acked), missing: ids(r.missing), rtt_ms: r.rtt_ms };
  });

  app.post<{ Body: Static<typeof ValueBody> }>('/broadcast/values', { schema: { body: ValueBody } }, async (request, reply) => {
    const { value } = request.body;
    await ask(host, { type: 'broadcast.send', value }, 'broadcast.send_ok');
    return reply.code(201).send({ status: 'stored', node_id: nodeId, value });
  });

  app.get('/broadcast/values', async () => {
    const r = await ask(host, { type: 'broadcast.read' }, 'broadcast.read_ok');
    const values = Array.isArray(r.values) ? r.values : [];
    return { node_id: nodeId, count: values.length, values };
  });

  // ---- leader election (Module 08) ----------------------------------------

  // The bully's ELECTION message from a client: "I am alive" (OK), and a node
  // that outranks the sender runs an election of its own — as the handout's node does.
  app.post<{ Body: Static<typeof ElectionBody> }>('/election', { schema: { body: ElectionBody }, preValidation: noBodyAsEmpty }, async (request) => {
    const raw = request.body.from ?? request.body.sender_id;
    const from = raw === undefined ? undefined : String(raw);
    const outranked = from === undefined || !node.roster.some((n) => n.id === from) || compareIds(from, node.id) < 0;
    if (outranked) await ask(host, { type: 'election.start' }, 'election.start_ok');
    return { status: 'OK', node_id: nodeId, election_started: outranked };
  });

  app.post<{ Body: Static<typeof CoordinatorBody> }>('/coordinator', { schema: { body: CoordinatorBody } }, async (request) => {
    const raw = request.body.leader_id ?? request.body.leader;
    if (raw === undefined) throw new HttpError(400, 'invalid request', "body field 'leader_id' is required");
    const r = await ask(host, { type: 'election.coordinator', leader: String(raw) }, 'election.coordinator_ok');
    return { status: 'OK', node_id: nodeId, leader_id: idOrNull(r.leader) };
  });

  // ---- gossip (Module 07) ------------------------------------------------------

  app.post<{ Body: Static<typeof EmptyBody> }>('/update', { schema: { body: EmptyBody }, preValidation: noBodyAsEmpty }, async () => {
    const r = await ask(host, { type: 'gossip.update' }, 'gossip.update_ok');
    return { status: 'updated', node_id: nodeId, version: r.version, states: gossipOf().status().states };
  });

  // The handout's exchange: the caller sends its map, this node keeps the
  // higher version of every entry and answers with its whole map.
  // Only roster nodes issue versions (each its own, by `POST /update`), so an
  // origin outside the roster is refused: merged, it would sit in every node's
  // map forever with a version nobody issued.
  app.post<{ Body: Static<typeof GossipBody> }>('/gossip', { schema: { body: GossipBody } }, async (request) => {
    const members = host.members();
    const strangers = Object.keys(request.body.states).filter((origin) => !members.includes(origin));
    if (strangers.length > 0) {
      const named = strangers.slice(0, 5).map((o) => `'${o}'`).join(', ') + (strangers.length > 5 ? ` and ${strangers.length - 5} more` : '');
      throw new HttpError(400, 'invalid request', `body field 'states': ${named} ${strangers.length === 1 ? 'is not a node' : 'are not nodes'} of the roster (${members.join(', ')}); gossip carries versions of roster nodes only`);
    }
    await ask(host, { type: 'gossip.digest', states: request.body.states }, 'gossip.digest_ok');
    return { node_id: nodeId, states: gossipOf().status().states };
  });
}
