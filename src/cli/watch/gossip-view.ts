/**
 * `distlab watch gossip`: the handout's visualizer — a grid of versions,
 * one row per node (what it knows), one column per origin (whose version).
 * A cell that just changed is highlighted; when every reachable node holds
 * the same map the view says "converged ✓".
 */
import { compareIds } from '../../protocols/envelope.js';
import { columns, paint, reachCell, type WatchView } from './view.js';

/** How long a changed cell stays highlighted (ms). */
export const HIGHLIGHT_MS = 2000;

export interface GossipWatchState {
  order: string[];
  /** node → origin → version. */
  versions: Record<string, Record<string, number>>;
  /** "node/origin" → when it last changed (watcher's clock). */
  changedAt: Record<string, number>;
}

function learn(state: GossipWatchState, node: string, origin: string, version: number, now: number): GossipWatchState {
  const row = state.versions[node] ?? {};
  if ((row[origin] ?? -1) >= version) return state;
  const known = row[origin] !== undefined;
  return {
    ...state,
    versions: { ...state.versions, [node]: { ...row, [origin]: version } },
    // A value seen for the first time in a snapshot is not news; a raised version is.
    changedAt: known ? { ...state.changedAt, [`${node}/${origin}`]: now } : state.changedAt,
  };
}

/** Whether every one of `nodes` holds the same map. */
export function converged(state: GossipWatchState, nodes: readonly string[]): boolean {
  if (nodes.length === 0) return false;
  const text = (id: string) => JSON.stringify(Object.entries(state.versions[id] ?? {}).sort(([a], [b]) => compareIds(a, b)));
  const first = text(nodes[0] as string);
  return nodes.every((id) => state.versions[id] !== undefined && text(id) === first);
}

export const gossipView: WatchView<GossipWatchState> = {
  protocol: 'gossip',
  eventTypes: ['gossip.learned'],

  initial: (nodes) => ({ order: [...nodes], versions: {}, changedAt: {} }),

  snapshot(state, node, status, now) {
    const states = (status as { states?: Record<string, unknown> } | undefined)?.states ?? {};
    let next = state;
    for (const [origin, version] of Object.entries(states)) if (typeof version === 'number') next = learn(next, node, origin, version, now);
    return next;
  },

  event(state, e, now) {
    if (e.type !== 'gossip.learned' || typeof e.origin !== 'string' || typeof e.version !== 'number') return state;
    return learn(state, e.node, e.origin, e.version, now);
  },

  render(state, reach, opts) {
    const p = paint(opts);
    const origins = [...new Set([...state.order, ...Object.values(state.versions).flatMap((row) => Object.keys(row))])].sort(compareIds);
    const rows = [['node \\ origin', ...origins, 'reach']];
    for (const id of state.order) {
      const row = state.versions[id];
      const down = reach[id]?.state === 'down';
      const cells = origins.map((o) => {
        const v = row?.[o];
        if (v === undefined) return p.dim('·');
        const fresh = opts.now - (state.changedAt[`${id}/${o}`] ?? -Infinity) < HIGHLIGHT_MS;
        return fresh ? p.inverse(p.green(String(v))) : String(v);
      });
      rows.push([id, ...(down ? origins.map(() => p.dim('-')) : cells), reachCell(reach[id], opts)]);
    }
    const live = state.order.filter((id) => reach[id]?.state === 'up');
    const verdict = converged(state, live) ? p.green(`converged ✓ (${live.length} nodes)`) : p.yellow('spreading …');
    return [p.bold('gossip versions'), columns(rows), '', verdict].join('\n');
  },
};
