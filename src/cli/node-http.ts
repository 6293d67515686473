/**
 * Talking to nodes from the CLI: JSON over HTTP with a timeout, and picking
 * a node of the roster by id.
 */
import { Agent, request } from 'undici';
import type { RosterEntry } from '../live/roster.js';
import { UsageError } from './errors.js';

export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A connection pool for one command; close it when done. */
export function cliAgent(): Agent {
  return new Agent({ keepAliveTimeout: 1000 });
}

/** GET or POST (with a JSON body) `url`; rejects when the node cannot be reached in time. */
export async function callNode(agent: Agent, url: string, opts: { json?: unknown; post?: boolean; timeoutMs: number }): Promise<JsonAnswer> {
  const post = opts.post === true || opts.json !== undefined;
  const res = await request(url, {
    dispatcher: agent,
    method: post ? 'POST' : 'GET',
    headers: opts.json !== undefined ? { 'content-type': 'application/json' } : {},
    body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await res.body.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    body = { error: 'not JSON', detail: text.slice(0, 200) };
  }
  return { status: res.statusCode, body };
}

/** Why a node could not be reached, in a few words. */
export function unreachableReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  return code ?? e.message ?? String(err);
}

/** The roster entry with id `id`, or the first one; an unknown id is bad usage. */
export function pickNode(roster: readonly RosterEntry[], id: string | undefined): RosterEntry {
  if (id === undefined) return roster[0] as RosterEntry;
  const node = roster.find((n) => n.id === id);
  if (!node) throw new UsageError(`node ${id} is not in the roster (its ids: ${roster.map((n) => n.id).join(', ')})`);
  return node;
}

/** `{error, detail}` of a failed answer as one line. */
export function describeFailure(answer: JsonAnswer): string {
  const { error, detail } = answer.body;
  return `HTTP ${answer.status}${error !== undefined ? `: ${String(error)}` : ''}${detail !== undefined ? ` — ${String(detail)}` : ''}`;
}
