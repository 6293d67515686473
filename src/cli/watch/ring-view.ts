/**
 * `distlab watch ring`: the roster drawn as a ring, where the token is (the
 * node that saw it last), the path of the last round that came home, and
 * the nodes that were skipped.
 */
import type { StampedEvent } from '../../protocols/env.js';
import { ago, columns, paint, reachCell, type WatchView } from './view.js';

export interface RingNodeState {
  /** The last token this node saw, and when (watcher's clock). */
  lastToken?: string;
  hop?: number;
  seenAt?: number;
  /** The node's own clock when it saw it (from a snapshot). */
  clock?: number;
}

export interface RingWatchState {
  order: string[];
  nodes: Record<string, RingNodeState>;
  /** The node that saw a token last. */
  holder?: string;
  lastRound?: { token: string; origin: string; path: string[]; skipped: string[]; rtt_ms?: number; at: number; clock?: number };
  /** Skips reported, newest last (at most 10). */
  skips: Array<{ skipped: string; by: string; token: string; at: number }>;
}

interface RingLogEntry {
  token: string;
  origin: string;
  hop: number;
  at: number;
  returned?: { path: string[]; skipped: string[]; rtt_ms?: number };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export const ringView: WatchView<RingWatchState> = {
  protocol: 'ring',
  eventTypes: ['token.seen', 'ring.'],

  initial: (nodes) => ({ order: [...nodes], nodes: Object.fromEntries(nodes.map((n) => [n, {}])), skips: [] }),

  snapshot(state, node, status, now) {
    const log = (status as { log?: RingLogEntry[] } | undefined)?.log;
    if (!Array.isArray(log) || log.length === 0) return state;
    const last = log[log.length - 1] as RingLogEntry;
    const nodes = { ...state.nodes, [node]: { ...state.nodes[node], lastToken: last.token, hop: last.hop, clock: last.at } };
    // The token is with the node that saw one last (the nodes' clocks, in a snapshot).
    const holder = Object.entries(nodes).reduce<[string, number] | undefined>((best, [id, n]) => (n.clock !== undefined && (!best || n.clock > best[1]) ? [id, n.clock] : best), undefined)?.[0];
    const home = [...log].reverse().find((e) => e.returned);
    const newer = home?.returned && (state.lastRound?.clock === undefined || home.at > state.lastRound.clock);
    const lastRound =
      home?.returned && newer
        ? { token: home.token, origin: home.origin, path: strings(home.returned.path), skipped: strings(home.returned.skipped), ...(home.returned.rtt_ms !== undefined && { rtt_ms: home.returned.rtt_ms }), at: now, clock: home.at }
        : state.lastRound;
    return { ...state, nodes, ...(holder !== undefined && { holder }), ...(lastRound && { lastRound }) };
  },

  event(state, e, now) {
    switch (e.type) {
      case 'token.seen':
        return { ...state, holder: e.node, nodes: { ...state.nodes, [e.node]: { lastToken: String(e.token), hop: Number(e.hop), seenAt: now } } };
      case 'ring.completed':
        return {
          ...state,
          holder: e.node,
          lastRound: { token: String(e.token), origin: String(e.origin), path: strings(e.path), skipped: strings(e.skipped), ...(typeof e.rtt_ms === 'number' && { rtt_ms: e.rtt_ms }), at: now },
        };
      case 'ring.skipped':
        return { ...state, skips: [...state.skips, { skipped: String(e.skipped), by: e.node, token: String(e.token), at: now }].slice(-10) };
    }
    return state;
  },

  render(state, reach, opts) {
    const p = paint(opts);
    const recentlySkipped = new Set(state.skips.map((s) => s.skipped));
    const ring = [...state.order, state.order[0] ?? '']
      .map((id) => (reach[id]?.state === 'down' ? p.red(`(${id})`) : id === state.holder ? p.inverse(`[${id}]`) : id))
      .join(' → ');
    const rows = [['node', 'reach', 'last token seen', 'when', '']];
    for (const id of state.order) {
      const n = state.nodes[id] ?? {};
      const token = n.lastToken === undefined ? '-' : `${n.lastToken} (hop ${n.hop ?? '?'})`;
      const marks = [id === state.holder ? p.bold('◀ token') : '', recentlySkipped.has(id) ? p.yellow('skipped') : ''].filter(Boolean).join(' ');
      rows.push([id, reachCell(reach[id], opts), token, ago(n.seenAt, opts.now), marks]);
    }
    const lines = [p.bold('ring'), `  ${ring}`, '', columns(rows), ''];
    const r = state.lastRound;
    if (r) {
      const skipped = r.skipped.length > 0 ? `, skipped ${r.skipped.join(', ')}` : '';
      lines.push(`last round: ${r.token}  ${r.path.join(' → ')}${skipped}${r.rtt_ms !== undefined ? `  in ${r.rtt_ms} ms` : ''}`);
    } else {
      lines.push('last round: none yet (try: distlab ring send)');
    }
    for (const s of state.skips.slice(-3)) lines.push(p.yellow(`skip: node ${s.by} skipped ${s.skipped} (token ${s.token}, ${ago(s.at, opts.now)})`));
    return lines.join('\n');
  },
};
