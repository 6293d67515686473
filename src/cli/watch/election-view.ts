/**
 * `distlab watch election`: who leads according to each node, its role,
 * whether it is running an election, and when its view last changed.
 */
import { columns, ago, paint, reachCell, type WatchView } from './view.js';

export interface ElectionNodeState {
  leader: string | null;
  electing: boolean;
  epoch?: number;
  changedAt?: number;
}

export interface ElectionWatchState {
  order: string[];
  nodes: Record<string, ElectionNodeState>;
  algorithm?: string;
}

/** The one leader every reachable node follows, or undefined when they disagree (or know none). */
export function agreedLeader(state: ElectionWatchState, nodes: readonly string[]): string | undefined {
  const leaders = new Set(nodes.map((id) => state.nodes[id]?.leader ?? null));
  if (nodes.length === 0 || leaders.size !== 1) return undefined;
  return [...leaders][0] ?? undefined;
}

export const electionView: WatchView<ElectionWatchState> = {
  protocol: 'election',
  eventTypes: ['leader.changed', 'election.started'],

  initial: (nodes) => ({ order: [...nodes], nodes: {} }),

  snapshot(state, node, status) {
    const s = status as { leader_id?: unknown; election_in_progress?: unknown; epoch?: unknown; algorithm?: unknown } | undefined;
    if (!s) return state;
    const prev = state.nodes[node];
    const leader = typeof s.leader_id === 'string' ? s.leader_id : null;
    const entry: ElectionNodeState = { leader, electing: s.election_in_progress === true, ...(typeof s.epoch === 'number' && { epoch: s.epoch }), ...(prev?.changedAt !== undefined && { changedAt: prev.changedAt }) };
    return { ...state, nodes: { ...state.nodes, [node]: entry }, ...(typeof s.algorithm === 'string' && { algorithm: s.algorithm }) };
  },

  event(state, e, now) {
    const prev = state.nodes[e.node] ?? { leader: null, electing: false };
    if (e.type === 'election.started') return { ...state, nodes: { ...state.nodes, [e.node]: { ...prev, electing: true } } };
    if (e.type === 'leader.changed') {
      const entry: ElectionNodeState = { leader: typeof e.leader === 'string' ? e.leader : null, electing: false, changedAt: now, ...(typeof e.epoch === 'number' && { epoch: e.epoch }) };
      return { ...state, nodes: { ...state.nodes, [e.node]: entry } };
    }
    return state;
  },

  render(state, reach, opts) {
    const p = paint(opts);
    const rows = [['node', 'leader', 'role', 'election', 'last change', 'reach']];
    for (const id of state.order) {
      const n = state.nodes[id];
      const down = reach[id]?.state === 'down';
      if (!n || down) {
        rows.push([id, '-', '-', '-', '-', reachCell(reach[id], opts)]);
        continue;
      }
      const role = n.leader === id ? p.bold(p.green('LEADER')) : n.electing ? p.yellow('candidate') : n.leader === null ? p.dim('no leader') : 'follower';
      rows.push([id, n.leader ?? '-', role, n.electing ? p.yellow('in progress') : '-', ago(n.changedAt, opts.now), reachCell(reach[id], opts)]);
    }
    const live = state.order.filter((id) => reach[id]?.state === 'up');
    const leader = agreedLeader(state, live);
    const verdict = leader !== undefined ? p.green(`agreement: every reachable node follows ${leader} ✓`) : p.yellow('no agreement yet');
    return [p.bold(`leader election${state.algorithm ? ` (${state.algorithm})` : ''}`), columns(rows), '', verdict].join('\n');
  },
};
