/**
 * The roster: which nodes make up the cluster, and where each one listens.
 *
 * The workshop handouts hand every team a printed table "team name ↔ Pi IP";
 * this is that table as a file. The same roster serves a laptop cluster
 * (`distlab up` writes one) and a room full of Raspberry Pis. A node finds its
 * peers here, and its ring successor is the next entry (wrapping round).
 *
 * Accepted shapes, in YAML or JSON:
 *
 *     nodes:                          # or a bare list at the top level
 *       - id: 1                       # a number or a string; stored as a string
 *         team: team1                 # optional, defaults to "team<id>"
 *         url: http://192.168.10.11:5000
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import type { NodeId } from '../protocols/envelope.js';

// yaml is loaded when a roster is read or written in YAML, not with this
// module: a node started without a roster file never needs it.
const require = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');

export interface RosterEntry {
  id: NodeId;
  team: string;
  /** Base URL peers use to reach the node, e.g. `http://127.0.0.1:5001` (no trailing slash). */
  url: string;
}

export type Roster = readonly RosterEntry[];

/** A roster that cannot be used; the message names the file and the problem. */
export class RosterError extends Error {
  override readonly name = 'RosterError';
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The team name a node gets when none is given. */
export function defaultTeam(id: NodeId): string {
  return `team${id}`;
}

/**
 * Ids are strings inside distlab. The handouts' nodes use integer ids, so
 * when an id is a plain integer it is shown in JSON as a number (`"node_id": 1`).
 */
export function jsonId(id: NodeId): string | number {
  return /^(0|[1-9]\d{0,14})$/.test(id) ? Number(id) : id;
}

/** Checks a node id given on the command line or in a file; returns it as a string. */
export function validateId(raw: unknown, where: string): NodeId {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return String(raw);
  if (typeof raw === 'string' && ID_PATTERN.test(raw)) return raw;
  throw new RosterError(
    `${where}: id must be a non-negative integer or 1-64 characters of letters, digits, '_', '.', '-' (got ${JSON.stringify(raw)})`,
  );
}

/** Normalises a node URL: http(s), host and port, no path. */
export function normaliseUrl(raw: unknown, where: string): string {
  if (typeof raw !== 'string') throw new RosterError(`${where}: url must be a string like http://127.0.0.1:5001`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RosterError(`${where}: '${raw}' is not a URL (expected something like http://127.0.0.1:5001)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RosterError(`${where}: url '${raw}' must start with http:// or https://`);
  if (url.pathname !== '/' || url.search || url.hash) throw new RosterError(`${where}: url '${raw}' must not have a path, query or fragment`);
  return url.origin;
}

/** Validates parsed roster data (from YAML or JSON). `source` names the file in messages. */
function rosterFromData(data: unknown, source: string): RosterEntry[] {
  const list = Array.isArray(data) ? data : isRecord(data) && Array.isArray(data.nodes) ? data.nodes : undefined;
  if (!list) throw new RosterError(`${source}: expected a list of nodes (or an object with a 'nodes' list)`);
  if (list.length === 0) throw new RosterError(`${source}: the roster lists no nodes`);
  const entries: RosterEntry[] = [];
  const ids = new Map<NodeId, number>();
  const urls = new Map<string, number>();
  list.forEach((item: unknown, i) => {
    const where = `${source}: node #${i + 1}`;
    if (!isRecord(item)) throw new RosterError(`${where}: expected an object with id, team and url`);
    for (const key of Object.keys(item)) {
      if (key !== 'id' && key !== 'team' && key !== 'url') throw new RosterError(`${where}: unknown field '${key}' (expected id, team, url)`);
    }
    if (item.id === undefined) throw new RosterError(`${where}: missing id`);
    const id = validateId(item.id, where);
    if (item.url === undefined) throw new RosterError(`${where} (id ${id}): missing url`);
    const url = normaliseUrl(item.url, `${where} (id ${id})`);
    if (item.team !== undefined && (typeof item.team !== 'string' || item.team.trim() === '')) {
      throw new RosterError(`${where} (id ${id}): team must be a non-empty string`);
    }
    const team = typeof item.team === 'string' ? item.team : defaultTeam(id);
    const dupId = ids.get(id);
    if (dupId !== undefined) throw new RosterError(`${where}: id ${id} is already used by node #${dupId}`);
    const dupUrl = urls.get(url);
    if (dupUrl !== undefined) throw new RosterError(`${where} (id ${id}): url ${url} is already used by node #${dupUrl}`);
    ids.set(id, i + 1);
    urls.set(url, i + 1);
    entries.push({ id, team, url });
  });
  return entries;
}

/** Parses roster text; JSON when `source` ends in .json, YAML otherwise (YAML also reads JSON). */
export function parseRoster(text: string, source: string): RosterEntry[] {
  let data: unknown;
  try {
    data = extname(source).toLowerCase() === '.json' ? JSON.parse(text) : yaml().parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new RosterError(`${source}: cannot parse: ${reason}`);
  }
  return rosterFromData(data, source);
}

export function loadRoster(path: string): RosterEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RosterError(code === 'ENOENT' ? `${path}: no such roster file` : `${path}: cannot read (${code ?? String(err)})`);
  }
  return parseRoster(text, path);
}

/** The roster as a file: JSON for a .json path, YAML otherwise. Integer ids are written as numbers. */
export function formatRoster(roster: Roster, path: string): string {
  const nodes = roster.map((n) => ({ id: jsonId(n.id), team: n.team, url: n.url }));
  if (extname(path).toLowerCase() === '.json') return `${JSON.stringify({ nodes }, null, 2)}\n`;
  return `# distlab roster: one entry per node (id, team, url)\n${yaml().stringify({ nodes })}`;
}

export function findNode(roster: Roster, id: NodeId): RosterEntry | undefined {
  return roster.find((n) => n.id === id);
}

/** The node after `id` in roster order, wrapping round: the ring successor. */
export function nextInRing(roster: Roster, id: NodeId): RosterEntry | undefined {
  const i = roster.findIndex((n) => n.id === id);
  if (i < 0) return undefined;
  return roster[(i + 1) % roster.length];
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
