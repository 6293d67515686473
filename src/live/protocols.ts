/**
 * The coordination protocols of a live node: which ones run, how they are
 * tuned, and what of them the node's log shows.
 *
 * `registerProtocols(app, settings)` adds the protocol runtime to a node's
 * Fastify app (`POST /envelope`, `GET /events`, `/admin/faults`) with the
 * ring, the three broadcasts, gossip, leader election, the registry and the
 * SWIM failure detector and the replicated key-value store (kv, behind
 * `/data`; on the given storage, e.g. SQLite on disk), their peers taken
 * from the roster; it mounts the
 * HTTP adapters (src/live/routes/coordination.ts, membership.ts) and starts
 * the protocols once the server listens. The protocols' timers are unref'd
 * by the host and cancelled when the app closes, so they never keep a
 * stopped node alive.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ProtocolFactory, StampedEvent, Storage } from '../protocols/env.js';
import { broadcastAll } from '../protocols/broadcast-all.js';
import { structuredBroadcast } from '../protocols/broadcast-structured.js';
import { broadcast } from '../protocols/broadcast.js';
import { election, type ElectionAlgorithm } from '../protocols/election.js';
import { DEFAULT_GOSSIP_CONFIG, gossip } from '../protocols/gossip.js';
import { DEFAULT_KV_CONFIG, kv, type KvConfig } from '../protocols/kv.js';
import { registry } from '../protocols/registry.js';
import { predecessor, ring } from '../protocols/ring.js';
import { LAN_SWIM_CONFIG, swim } from '../protocols/swim.js';
import { registerRuntime, type LiveHost } from './host.js';
import { coordinationRoutes } from './routes/coordination.js';
import { membershipRoutes } from './routes/membership.js';

export type SwimProfile = 'local' | 'lan';
export const SWIM_PROFILES: readonly SwimProfile[] = ['local', 'lan'];
export const ELECTION_ALGORITHMS: readonly ElectionAlgorithm[] = ['bully', 'lowest'];

/** What a user may tune from the command line. */
export interface ProtocolSettings {
  /** Leader election algorithm (default bully, the handout's Module 08). */
  election: ElectionAlgorithm;
  /** SWIM timing: 'local' for loopback (detects a crash in ~2 s), 'lan' for a room of Pis. */
  swimProfile: SwimProfile;
  /** Milliseconds between a node's gossip rounds. */
  gossipIntervalMs: number;
  /** The replicated key-value store behind `/data`: replicas per key, quorums, consistency mode. */
  kv: Pick<KvConfig, 'n' | 'r' | 'w' | 'mode'>;
}

export const DEFAULT_PROTOCOL_SETTINGS: ProtocolSettings = {
  election: 'bully',
  swimProfile: 'local',
  gossipIntervalMs: DEFAULT_GOSSIP_CONFIG.intervalMs,
  kv: { n: DEFAULT_KV_CONFIG.n, r: DEFAULT_KV_CONFIG.r, w: DEFAULT_KV_CONFIG.w, mode: DEFAULT_KV_CONFIG.mode },
};

/** The protocol names `GET /status/:protocol` knows, in the order the node runs them. */
export const PROTOCOL_NAMES = ['ring', 'broadcast_all', 'structured_broadcast', 'broadcast', 'gossip', 'election', 'registry', 'swim', 'kv'] as const;

/** The factories a node runs, in PROTOCOL_NAMES order. */
function protocolFactories(settings: ProtocolSettings, selfUrl: string): ProtocolFactory[] {
  return [
    ring(),
    broadcastAll(),
    structuredBroadcast(),
    broadcast(),
    gossip({ intervalMs: settings.gossipIntervalMs }),
    election({ algorithm: settings.election }),
    // The registry node is the roster's first entry (the protocol's default).
    registry({ url: selfUrl }),
    swim(settings.swimProfile === 'lan' ? LAN_SWIM_CONFIG : {}),
    kv(settings.kv),
  ];
}

/** Adds the runtime, its protocols and their HTTP adapters to a node's app; the protocols start when it listens. */
export function registerProtocols(app: FastifyInstance, settings: ProtocolSettings, storage?: Storage): LiveHost {
  const node = app.distlab;
  const host = registerRuntime(app, {
    id: node.id,
    storage,
    protocols: protocolFactories(settings, node.self.url),
    peers: node.roster.map((n) => ({ id: n.id, url: n.url })),
  });
  logProtocolEvents(host, node.logger);
  mirrorIntoMessageLog(app, host);
  void app.register(coordinationRoutes, { host });
  void app.register(membershipRoutes, { host, protocols: PROTOCOL_NAMES });
  app.addHook('onListen', async () => {
    host.start();
    node.logger.debug({ protocols: PROTOCOL_NAMES, ...settings }, 'protocols started');
  });
  return host;
}

/** Event types worth a log line, and how each reads. */
const LOGGED_EVENTS = ['leader.changed', 'member.', 'ring.', 'broadcast_all.done', 'protocol.error', 'host.error'];

function logProtocolEvents(host: LiveHost, logger: Logger): void {
  host.subscribe((e) => {
    const line = describeEvent(e);
    if (line) logger[line.level]({ event: e.type }, line.text);
  }, LOGGED_EVENTS);
}

/** The log line for an event, or undefined when it is not worth one. */
export function describeEvent(e: StampedEvent): { level: 'info' | 'warn' | 'error'; text: string } | undefined {
  const id = (v: unknown): string => (v === null || v === undefined ? 'none' : String(v));
  switch (e.type) {
    case 'leader.changed':
      return { level: 'info', text: `leader is now ${id(e.leader)} (was ${id(e.previous)})` };
    case 'member.dead':
      // SWIM's verdicts carry an incarnation; the registry's carry the silence that expired them.
      return 'incarnation' in e
        ? { level: 'warn', text: `swim: member ${id(e.member)} declared dead (via ${id(e.via)})` }
        : { level: 'warn', text: `registry: member ${id(e.member)} expired after ${id(e.last_seen_ms_ago)} ms of silence` };
    case 'member.suspected':
      return { level: 'info', text: `swim: member ${id(e.member)} suspected (via ${id(e.via)})` };
    case 'member.alive':
      return { level: 'info', text: `swim: member ${id(e.member)} alive (incarnation ${id(e.incarnation)})` };
    case 'member.joined':
      return { level: 'info', text: `registry: member ${id(e.member)} ${e.rejoined ? 'registered again' : 'registered'}` };
    case 'ring.skipped':
      return { level: 'warn', text: `ring: node ${id(e.skipped)} did not answer, skipped (token ${id(e.token)})` };
    case 'ring.completed': {
      const path = Array.isArray(e.path) ? e.path.join(' → ') : '?';
      return { level: 'info', text: `ring: token ${id(e.token)} back home: ${path}` };
    }
    case 'ring.timeout':
      return { level: 'warn', text: `ring: token ${id(e.token)} did not come back within ${id(e.after_ms)} ms` };
    case 'ring.abandoned':
      return { level: 'warn', text: `ring: token ${id(e.token)} abandoned: ${id(e.reason)}` };
    case 'broadcast_all.done':
      return Array.isArray(e.missing) && e.missing.length > 0
        ? { level: 'warn', text: `broadcast: ${e.missing.join(', ')} did not acknowledge ${id(e.id)}` }
        : undefined;
    case 'protocol.error':
      return { level: 'error', text: `protocol error in ${id(e.where)}: ${id(e.error)}` };
    case 'host.error':
      return { level: 'error', text: `${id(e.route)} failed: ${id(e.error)}` };
  }
  return undefined;
}

/**
 * The handouts check each node's `GET /messages` after a ring round or a
 * broadcast: "every node logged it once". So a ring token handed on by
 * another node, and a one-to-all message from another node, join the log too
 * (a `POST /message` joins it through its own route). And the handout's
 * `ring_send.py` — `POST /message {from, payload}` to the next node — starts
 * a ring round from there (`ring.message`).
 */
function mirrorIntoMessageLog(app: FastifyInstance, host: LiveHost): void {
  const node = app.distlab;
  const members = new Set(node.roster.map((n) => n.id));
  let mirroring = false;
  let fromPost = false;
  const mirror = (from: string, payload: unknown): void => {
    mirroring = true;
    try {
      node.messages.append(from, payload);
    } finally {
      mirroring = false;
    }
  };
  host.subscribe(
    (e) => {
      // The origin of a round logs it as it starts it; every other node as the token arrives from the node before.
      if (e.type === 'token.seen' && e.hop === 0) {
        if (!fromPost) mirror(node.id, e.token); // a posted message is in the log already
      }
      else if (e.type === 'token.seen' && typeof e.from === 'string' && members.has(e.from)) mirror(e.from, e.token);
      if (e.type === 'broadcast_all.received' && e.origin !== node.id && typeof e.origin === 'string') mirror(e.origin, e.message);
    },
    ['token.seen', 'broadcast_all.received'],
  );
  const unsubscribe = node.messages.subscribe((message) => {
    if (mirroring) return;
    const from = ringOrigin(message.from, node.id, node.roster);
    if (from === undefined) return; // a broadcast from another node, not a ring hop
    // The ring records the round synchronously, inside request().
    fromPost = true;
    const replied = host.request({ type: 'ring.message', from, payload: message.payload }, 2_000);
    fromPost = false;
    void replied.then((reply) => {
      if (reply.type === 'error') node.logger.warn({ reply }, `ring: could not pass on the message from ${message.from}: ${String(reply.text)}`);
    });
  });
  app.addHook('onClose', async () => void unsubscribe());
}

/**
 * Whether a `POST /message` is a ring hop, and from which origin. The
 * handout's ring posts to the *next* node, so a message from the node just
 * before this one (or from this node itself) continues a ring round; so does
 * one whose sender is not a known node (a laptop, an ambiguous address), as
 * the ring protocol then takes the node before this one as the origin. A
 * message from any other roster node is the handout's broadcast ("one node
 * POSTs to every other"): it is logged and goes no further, so every node
 * logs it once. Returns the `from` to hand to `ring.message`, or undefined.
 */
export function ringOrigin(from: string, self: string, roster: ReadonlyArray<{ id: string; url: string }>): string | undefined {
  const origin = originOf(from, roster);
  const ids = roster.map((n) => n.id);
  if (!ids.includes(origin)) return origin;
  return origin === self || origin === predecessor(ids, self) ? origin : undefined;
}

/**
 * The node a handout's `from` names: a roster id as is; a URL, `host:port`
 * or address that matches exactly one roster entry → that entry's id;
 * anything else unchanged (the ring then takes the receiver's predecessor as
 * the origin).
 */
export function originOf(from: string, roster: ReadonlyArray<{ id: string; url: string }>): string {
  if (roster.some((n) => n.id === from)) return from;
  const matches = roster.filter((n) => {
    const u = new URL(n.url);
    return from === n.url || from === u.host || from === u.hostname;
  });
  return matches.length === 1 ? (matches[0] as { id: string }).id : from;
}

