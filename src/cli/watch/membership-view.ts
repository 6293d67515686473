/**
 * `distlab watch membership` (and `distlab members`): each node's SWIM view
 * of every member as a matrix — rows are the observers, columns the members
 * they judge: alive, suspect or dead.
 */
import { compareIds } from '../../protocols/envelope.js';
import { columns, paint, reachCell, type RenderOptions, type WatchView } from './view.js';

export type MemberState = 'alive' | 'suspect' | 'dead';

export interface MembershipWatchState {
  order: string[];
  /** observer → member → state. */
  views: Record<string, Record<string, MemberState>>;
}

const isState = (s: unknown): s is MemberState => s === 'alive' || s === 'suspect' || s === 'dead';

function set(state: MembershipWatchState, observer: string, member: string, s: MemberState): MembershipWatchState {
  return { ...state, views: { ...state.views, [observer]: { ...state.views[observer], [member]: s } } };
}

/** Members that every reachable observer declares dead. */
export function deadForAll(state: MembershipWatchState, observers: readonly string[]): string[] {
  const members = new Set(observers.flatMap((o) => Object.keys(state.views[o] ?? {})));
  return [...members].filter((m) => observers.length > 0 && observers.every((o) => state.views[o]?.[m] === 'dead')).sort(compareIds);
}

function cell(s: MemberState | undefined, opts: RenderOptions): string {
  const p = paint(opts);
  if (s === 'alive') return p.green('alive');
  if (s === 'suspect') return p.yellow('SUSPECT');
  if (s === 'dead') return p.red('DEAD');
  return p.dim('·');
}

export const membershipView: WatchView<MembershipWatchState> = {
  protocol: 'swim',
  // SWIM's member events carry an incarnation; the registry's member events do not.
  eventTypes: ['member.alive', 'member.suspected', 'member.dead'],

  initial: (nodes) => ({ order: [...nodes], views: {} }),

  snapshot(state, node, status) {
    const members = (status as { members?: Array<{ node_id?: unknown; state?: unknown }> } | undefined)?.members;
    if (!Array.isArray(members)) return state;
    const view: Record<string, MemberState> = {};
    for (const m of members) if (typeof m.node_id === 'string' && isState(m.state)) view[m.node_id] = m.state;
    return { ...state, views: { ...state.views, [node]: view } };
  },

  event(state, e) {
    if (typeof e.member !== 'string' || typeof e.incarnation !== 'number') return state;
    if (e.type === 'member.alive') return set(state, e.node, e.member, 'alive');
    if (e.type === 'member.suspected') return set(state, e.node, e.member, 'suspect');
    if (e.type === 'member.dead') return set(state, e.node, e.member, 'dead');
    return state;
  },

  render(state, reach, opts) {
    const p = paint(opts);
    const members = [...new Set([...state.order, ...Object.values(state.views).flatMap((v) => Object.keys(v))])].sort(compareIds);
    const rows = [['seen by \\ member', ...members, 'reach']];
    for (const id of state.order) {
      const down = reach[id]?.state === 'down';
      const view = state.views[id];
      rows.push([id, ...members.map((m) => (down || !view ? p.dim('-') : cell(view[m], opts))), reachCell(reach[id], opts)]);
    }
    const live = state.order.filter((id) => reach[id]?.state === 'up');
    const dead = deadForAll(state, live);
    const verdict = dead.length > 0 ? p.red(`dead for every reachable node: ${dead.join(', ')}`) : p.green('no member is dead for everyone');
    return [p.bold('membership (SWIM)'), columns(rows), '', verdict].join('\n');
  },
};
