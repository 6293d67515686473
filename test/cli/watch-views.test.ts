/**
 * The terminal watchers' views as pure functions: state from snapshots and
 * events, and the text they render.
 */
import { describe, expect, it } from 'vitest';
import type { StampedEvent } from '../../src/protocols/env.js';
import { agreedLeader, electionView } from '../../src/cli/watch/election-view.js';
import { converged, gossipView, HIGHLIGHT_MS } from '../../src/cli/watch/gossip-view.js';
import { deadForAll, membershipView } from '../../src/cli/watch/membership-view.js';
import { ringView } from '../../src/cli/watch/ring-view.js';
import type { Reach } from '../../src/cli/watch/view.js';
import { agreement, formatLeaders } from '../../src/cli/commands/leader.js';
import { formatRound } from '../../src/cli/commands/ring.js';
import { formatBroadcast } from '../../src/cli/commands/broadcast.js';

const nodes = ['1', '2', '3'];
const up: Record<string, Reach> = { '1': { state: 'up' }, '2': { state: 'up' }, '3': { state: 'up' } };
const plain = { color: false, now: 10_000 };
let seq = 0;
const ev = (node: string, type: string, fields: Record<string, unknown> = {}): StampedEvent => ({ type, node, time: 0, seq: ++seq, ...fields });

describe('gossip view', () => {
  it('builds the version grid from snapshots and events and says when it converged', () => {
    let s = gossipView.initial(nodes);
    for (const id of nodes) s = gossipView.snapshot(s, id, { states: { '1': 0, '2': 0, '3': 0 } }, 0);
    expect(converged(s, nodes)).toBe(true);
    s = gossipView.event(s, ev('2', 'gossip.learned', { origin: '2', version: 1 }), 9_000);
    expect(converged(s, nodes)).toBe(false);
    const spreading = gossipView.render(s, up, plain);
    expect(spreading).toMatch(/^2 +0 +1 +0 +up$/m);
    expect(spreading).toContain('spreading');
    s = gossipView.event(s, ev('1', 'gossip.learned', { origin: '2', version: 1 }), 9_500);
    s = gossipView.event(s, ev('3', 'gossip.learned', { origin: '2', version: 1 }), 9_600);
    expect(gossipView.render(s, up, plain)).toContain('converged ✓ (3 nodes)');
  });

  it('highlights a changed cell on a terminal until it fades', () => {
    let s = gossipView.snapshot(gossipView.initial(['1']), '1', { states: { '1': 0 } }, 0);
    s = gossipView.event(s, ev('1', 'gossip.learned', { origin: '1', version: 4 }), 1_000);
    const fresh = gossipView.render(s, { '1': { state: 'up' } }, { color: true, now: 1_000 + HIGHLIGHT_MS - 1 });
    const faded = gossipView.render(s, { '1': { state: 'up' } }, { color: true, now: 1_000 + HIGHLIGHT_MS });
    expect(fresh).toContain('\x1b[7m');
    expect(faded).not.toContain('\x1b[7m');
  });

  it('ignores older versions and shows an unreachable node as such', () => {
    let s = gossipView.snapshot(gossipView.initial(nodes), '1', { states: { '1': 5 } }, 0);
    s = gossipView.event(s, ev('1', 'gossip.learned', { origin: '1', version: 3 }), 1);
    expect(s.versions['1']).toEqual({ '1': 5 });
    const text = gossipView.render(s, { ...up, '3': { state: 'down', detail: 'connection refused' } }, plain);
    expect(text).toMatch(/^3 +- +- +- +unreachable \(connection refused\)$/m);
  });
});

describe('election view', () => {
  it('follows leader changes and elections, and checks agreement among reachable nodes', () => {
    let s = electionView.initial(nodes);
    for (const id of nodes) s = electionView.snapshot(s, id, { leader_id: '3', election_in_progress: false, epoch: 1, algorithm: 'bully' }, 0);
    expect(agreedLeader(s, nodes)).toBe('3');
    s = electionView.event(s, ev('1', 'election.started', { reason: 'leader_lost' }), 1);
    s = electionView.event(s, ev('2', 'leader.changed', { leader: '2', previous: '3', epoch: 2 }), 2);
    const reach = { ...up, '3': { state: 'down', detail: 'connection refused' } } as const;
    expect(agreedLeader(s, ['1', '2'])).toBeUndefined();
    const text = electionView.render(s, reach, plain);
    expect(text).toMatch(/^1 +3 +candidate +in progress /m);
    expect(text).toMatch(/^2 +2 +LEADER +- +10\.0 s ago +up$/m);
    expect(text).toMatch(/^3 +- +- +- +- +unreachable/m);
    expect(text).toContain('no agreement yet');
    s = electionView.event(s, ev('1', 'leader.changed', { leader: '2', previous: '3', epoch: 2 }), 3);
    expect(electionView.render(s, reach, plain)).toContain('every reachable node follows 2 ✓');
  });
});

describe('membership view', () => {
  it("draws each node's view and names the members dead for everyone", () => {
    let s = membershipView.initial(nodes);
    const all = (state: string) => ({ members: nodes.map((n) => ({ node_id: n, state, incarnation: 1, since_ms_ago: 0 })) });
    for (const id of nodes) s = membershipView.snapshot(s, id, all('alive'), 0);
    s = membershipView.event(s, ev('1', 'member.suspected', { member: '3', incarnation: 1, via: '1' }), 1);
    s = membershipView.event(s, ev('2', 'member.dead', { member: '3', incarnation: 1, via: '1' }), 1);
    // The registry's member.dead has no incarnation: not SWIM's, ignored here.
    s = membershipView.event(s, ev('1', 'member.dead', { member: '2', last_seen_ms_ago: 10_000 }), 1);
    const reach = { ...up, '3': { state: 'down', detail: 'timeout after 2000 ms' } } as const;
    expect(deadForAll(s, ['1', '2'])).toEqual([]);
    const text = membershipView.render(s, reach, plain);
    expect(text).toMatch(/^1 +alive +alive +SUSPECT +up$/m);
    expect(text).toMatch(/^2 +alive +alive +DEAD +up$/m);
    expect(text).toMatch(/^3 +- +- +- +unreachable \(timeout after 2000 ms\)$/m);
    s = membershipView.event(s, ev('1', 'member.dead', { member: '3', incarnation: 1, via: '2' }), 2);
    expect(membershipView.render(s, reach, plain)).toContain('dead for every reachable node: 3');
  });
});

describe('ring view', () => {
  it('shows where the token is, the last round and the skips', () => {
    let s = ringView.initial(nodes);
    s = ringView.event(s, ev('1', 'token.seen', { token: 't', hop: 0, round: 'r', origin: '1' }), 1_000);
    s = ringView.event(s, ev('1', 'ring.skipped', { token: 't', round: 'r', skipped: '2' }), 1_500);
    s = ringView.event(s, ev('3', 'token.seen', { token: 't', hop: 1, round: 'r', origin: '1' }), 2_000);
    let text = ringView.render(s, { ...up, '2': { state: 'down', detail: 'connection refused' } }, plain);
    expect(text).toContain('1 → (2) → [3] → 1');
    expect(text).toMatch(/^3 +up +t \(hop 1\) +8\.0 s ago +◀ token$/m);
    expect(text).toMatch(/^2 +unreachable \(connection refused\) +- +- +skipped$/m);
    expect(text).toContain('last round: none yet');
    s = ringView.event(s, ev('1', 'ring.completed', { token: 't', round: 'r', origin: '1', path: ['1', '3', '1'], skipped: ['2'], rtt_ms: 1003 }), 2_100);
    text = ringView.render(s, up, plain);
    expect(text).toContain('last round: t  1 → 3 → 1, skipped 2  in 1003 ms');
    expect(text).toContain('skip: node 1 skipped 2');
  });

  it('takes the newest returned round and the token holder from snapshots', () => {
    const entry = (token: string, at: number, hop: number, returned?: object) => ({ round: token, token, origin: '1', hop, from: 'c', at, ...(returned && { returned }) });
    let s = ringView.initial(nodes);
    s = ringView.snapshot(s, '1', { log: [entry('old', 100, 0, { path: ['1', '2', '3', '1'], skipped: [] }), entry('new', 300, 0, { path: ['1', '3', '1'], skipped: ['2'] })] }, 0);
    s = ringView.snapshot(s, '2', { log: [entry('older', 50, 0, { path: ['2', '3', '1', '2'], skipped: [] })] }, 0);
    s = ringView.snapshot(s, '3', { log: [entry('new', 310, 1)] }, 0);
    expect(s.lastRound?.token).toBe('new');
    expect(s.holder).toBe('3');
  });
});

describe('CLI output', () => {
  it('ring send prints the path, the skipped nodes and the round trip', () => {
    expect(formatRound({ token: 'x', path: [1, 2, 4, 5, 1], skipped: [3], rtt_ms: 1012 })).toBe('token    x\npath     1 → 2 → 4 → 5 → 1\nskipped  3\nround trip 1012.0 ms\n');
  });

  it('broadcast prints who got it', () => {
    expect(formatBroadcast({ node_id: 1, mode: 'all', acked: [2, 4], missing: [3], rtt_ms: 9 })).toContain('acked    2, 4\nmissing  3\n');
    expect(formatBroadcast({ node_id: 1, mode: 'structured', path: [1, 2, 1], skipped: [], rtt_ms: 9 })).toContain('visited  1 → 2 → 1\nskipped  none\n');
  });

  it('leader agrees only when every reachable node names the same leader', () => {
    const rows = [
      { node: '1', reachable: true, leader: '3', is_leader: false, election_in_progress: false },
      { node: '2', reachable: false, detail: 'connection refused' },
      { node: '3', reachable: true, leader: '3', is_leader: true, election_in_progress: false },
    ];
    expect(agreement(rows)).toBe('3');
    expect(formatLeaders(rows)).toMatch(/^2 +- +- +- +no \(connection refused\)$/m);
    expect(agreement([...rows, { node: '4', reachable: true, leader: null, is_leader: false, election_in_progress: true }])).toBeUndefined();
    expect(agreement([rows[1]!])).toBeUndefined();
  });
});
