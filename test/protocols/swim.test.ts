import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/protocols/envelope.js';
import { NodeRuntime } from '../../src/protocols/runtime.js';
import { DEFAULT_SWIM_CONFIG, overrides, swim, type Swim, type SwimConfig, type SwimUpdate } from '../../src/protocols/swim.js';
import { suspicionTimeout } from '../../src/protocols/swim-suspicion.js';
import { TestNet } from '../helpers/test-net.js';
import { ManualHost } from '../helpers/manual-host.js';

const C = DEFAULT_SWIM_CONFIG;
const IDS = ['1', '2', '3', '4', '5'];
/** The shortest suspicion timeout for N < 10, where max(1, log10 N) = 1; the longest is suspicionMaxMult times it. */
const SUSPICION_MS = C.suspicionMult * C.probeIntervalMs;
const SUSPICION_MAX_MS = C.suspicionMaxMult * SUSPICION_MS;

function host(id: NodeId = '1', cluster = IDS, config: Partial<SwimConfig> = {}) {
  const h = ManualHost.start(id, cluster, [swim(config)]);
  return { h, proto: h.runtime.protocol<Swim>('swim')! };
}

/** Answers the join sync a fresh node sends, so tests start from a joined node. */
function answerJoin(h: ManualHost) {
  const sync = h.takeSent().find((m) => m.body.type === 'swim.sync')!;
  h.deliver(sync.dest, { type: 'swim.sync_ok', in_reply_to: sync.body.msg_id, incarnation: 0, members: [] });
}

const stateOf = (proto: Swim, node: NodeId) => proto.status().members.find((m) => m.node_id === node);

describe('the merge rule', () => {
  const r = (state: SwimUpdate['state'], incarnation: number) => ({ state, incarnation });
  it('prefers the higher incarnation, and at equal incarnation the worse state', () => {
    expect(overrides(r('alive', 2), r('dead', 1))).toBe(true);
    expect(overrides(r('dead', 1), r('alive', 2))).toBe(false);
    expect(overrides(r('suspect', 1), r('alive', 1))).toBe(true);
    expect(overrides(r('dead', 1), r('suspect', 1))).toBe(true);
    expect(overrides(r('alive', 1), r('suspect', 1))).toBe(false);
    expect(overrides(r('suspect', 1), r('suspect', 1))).toBe(false);
  });
});

describe('swim, one node by hand', () => {
  it('joins through a seed, then probes one member per period carrying its incarnation and news', () => {
    const { h, proto } = host();
    const [sync] = h.takeSent();
    expect(sync).toMatchObject({ dest: '2', body: { type: 'swim.sync', incarnation: 0 } });
    expect(proto.status().members.map((m) => [m.node_id, m.state])).toEqual(IDS.map((id) => [id, 'alive']));
    h.deliver('2', { type: 'swim.sync_ok', in_reply_to: sync!.body.msg_id, incarnation: 0, members: [] });
    expect(h.events.at(-1)).toMatchObject({ type: 'swim.joined', via: '2' });

    const targets: NodeId[] = [];
    for (let i = 0; i < 8; i++) {
      h.advance(C.probeIntervalMs);
      for (const m of h.takeSent()) {
        expect(m.body.type).toBe('swim.ping');
        targets.push(m.dest);
        h.deliver(m.dest, { type: 'swim.ping_ok', in_reply_to: m.body.msg_id, incarnation: 0, updates: [] });
      }
    }
    // round robin over a shuffled list: each of the 4 members once in every 4 probes
    expect([...targets.slice(0, 4)].sort()).toEqual(['2', '3', '4', '5']);
    expect([...targets.slice(4, 8)].sort()).toEqual(['2', '3', '4', '5']);
    expect(h.events.filter((e) => e.type !== 'swim.joined')).toEqual([]);
  });

  it('asks k others to probe when the direct ping times out, suspects, then declares dead', () => {
    const { h, proto } = host();
    answerJoin(h);
    h.advance(C.probeIntervalMs);
    const [ping] = h.takeSent();
    const target = ping!.dest;
    h.advance(C.probeTimeoutMs);
    const reqs = h.takeSent();
    expect(reqs).toHaveLength(C.indirectChecks);
    expect(reqs.every((m) => m.body.type === 'swim.ping_req' && m.body.target === target && m.dest !== target)).toBe(true);
    h.advance(C.indirectTimeoutMs);
    expect(stateOf(proto, target)?.state).toBe('suspect');
    expect(h.events.at(-1)).toMatchObject({ type: 'member.suspected', member: target, incarnation: 0, via: '1' });
    // nobody confirms the suspicion here, so it runs its longest course
    h.advance(SUSPICION_MAX_MS - 1);
    expect(stateOf(proto, target)?.state).toBe('suspect');
    h.advance(1);
    expect(stateOf(proto, target)?.state).toBe('dead');
    expect(h.events.at(-1)).toMatchObject({ type: 'member.dead', member: target, incarnation: 0 });
  });

  it('does not suspect a member that answers an indirect probe', () => {
    const { h, proto } = host();
    answerJoin(h);
    h.advance(C.probeIntervalMs);
    const target = h.takeSent()[0]!.dest;
    h.advance(C.probeTimeoutMs);
    const [req] = h.takeSent();
    h.deliver(req!.dest, { type: 'swim.ping_req_ok', in_reply_to: req!.body.msg_id, target, incarnation: 0, updates: [] });
    h.advance(C.indirectTimeoutMs);
    expect(stateOf(proto, target)?.state).toBe('alive');
    expect(h.events.filter((e) => e.type === 'member.suspected')).toEqual([]);
  });

  it('a suspicion is cleared by an alive report with a higher incarnation', () => {
    // probes so rare they never happen here, so only the reports below matter
    const { h, proto } = host('1', IDS, { probeIntervalMs: 1_000_000, suspicionMult: SUSPICION_MS / 1_000_000 });
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: '3', state: 'suspect', incarnation: 0 }] });
    expect(stateOf(proto, '3')?.state).toBe('suspect');
    h.advance(SUSPICION_MS - 1);
    h.deliver('4', { type: 'swim.ping', msg_id: 2, incarnation: 0, updates: [{ node: '3', state: 'alive', incarnation: 1 }] });
    h.advance(2 * SUSPICION_MS);
    expect(stateOf(proto, '3')).toMatchObject({ state: 'alive', incarnation: 1 });
    expect(h.events.filter((e) => e.member === '3').map((e) => e.type)).toEqual(['member.suspected', 'member.alive']);
  });

  it('a suspicion of a newer incarnation replaces the old one and still times out into dead', () => {
    // regression (found by test/sim/membership-property.test.ts, seed 186): the old timer watched
    // incarnation 0 and did nothing when it fired, so node 3 stayed suspect for ever
    const { h, proto } = host('1', IDS, { probeIntervalMs: 1_000_000, suspicionMult: SUSPICION_MS / 1_000_000 });
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: '3', state: 'suspect', incarnation: 0 }] });
    h.advance(SUSPICION_MS);
    h.deliver('4', { type: 'swim.ping', msg_id: 2, incarnation: 0, updates: [{ node: '3', state: 'suspect', incarnation: 1 }] });
    expect(stateOf(proto, '3')).toMatchObject({ state: 'suspect', incarnation: 1 });
    h.advance(SUSPICION_MAX_MS);
    expect(stateOf(proto, '3')).toMatchObject({ state: 'dead', incarnation: 1 });
    expect(h.events.filter((e) => e.member === '3').map((e) => e.type)).toEqual(['member.suspected', 'member.dead']);
  });

  it('independent confirmations shorten the suspicion, on a logarithmic curve', () => {
    expect(suspicionTimeout(0, 2, 1000, 3000)).toBe(3000);
    expect(suspicionTimeout(1, 2, 1000, 3000)).toBe(Math.floor(3000 - (Math.log(2) / Math.log(3)) * 2000));
    expect(suspicionTimeout(2, 2, 1000, 3000)).toBe(1000);
    expect(suspicionTimeout(5, 2, 1000, 3000)).toBe(1000);
    expect(suspicionTimeout(0, 0, 1000, 3000)).toBe(1000);

    const quiet = { probeIntervalMs: 1_000_000, suspicionMult: SUSPICION_MS / 1_000_000 };
    const { h, proto } = host('1', IDS, quiet);
    answerJoin(h);
    const suspect3 = (from: NodeId) => ({ node: '3', state: 'suspect', incarnation: 0, from });
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [suspect3('2')] });
    h.deliver('4', { type: 'swim.ping', msg_id: 2, incarnation: 0, updates: [suspect3('2')] }); // same accuser: no confirmation
    h.deliver('4', { type: 'swim.ping', msg_id: 3, incarnation: 0, updates: [suspect3('4')] });
    h.deliver('5', { type: 'swim.ping', msg_id: 4, incarnation: 0, updates: [suspect3('5')] });
    h.advance(SUSPICION_MS - 1);
    expect(stateOf(proto, '3')?.state).toBe('suspect');
    h.advance(1);
    expect(stateOf(proto, '3')?.state).toBe('dead');
  });

  it('refutes a suspicion about itself by bumping its incarnation and spreading it', () => {
    const { h, proto } = host();
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: '1', state: 'suspect', incarnation: 0 }] });
    expect(proto.status().incarnation).toBe(1);
    expect(h.events.at(-1)).toMatchObject({ type: 'member.refuted', rumour: 'suspect', incarnation: 1 });
    const [ack] = h.takeSent();
    expect(ack!.body).toMatchObject({ type: 'swim.ping_ok', incarnation: 1 });
    expect(ack!.body.updates).toContainEqual({ node: '1', state: 'alive', incarnation: 1 });
    // an old rumour at a lower incarnation changes nothing
    h.deliver('3', { type: 'swim.ping', msg_id: 2, incarnation: 0, updates: [{ node: '1', state: 'dead', incarnation: 0 }] });
    expect(proto.status().incarnation).toBe(1);
  });

  it('tells a suspect it is suspected when it pings it (the buddy rule)', () => {
    const { h } = host();
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: '3', state: 'suspect', incarnation: 0 }] });
    h.takeSent();
    h.deliver('3', { type: 'swim.ping', msg_id: 2, incarnation: 0 });
    const [ack] = h.takeSent();
    expect((ack!.body.updates as SwimUpdate[])[0]).toMatchObject({ node: '3', state: 'suspect', incarnation: 0 });
  });

  it('stops retransmitting an update after λ·log N sends', () => {
    const { h } = host();
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: '3', state: 'alive', incarnation: 4 }] });
    let carried = 0;
    for (let i = 0; i < 20; i++) {
      h.deliver('4', { type: 'swim.ping', msg_id: 10 + i, incarnation: 0 });
      for (const m of h.takeSent()) if ((m.body.updates as SwimUpdate[] | undefined)?.some((u) => u.node === '3')) carried++;
    }
    // N = 5 members: limit = retransmitMult × ceil(log10(6)) = retransmitMult,
    // counting the ack to '2' that carried it first
    expect(carried).toBe(C.retransmitMult);
  });

  it('probes a target on behalf of another member and relays the ack', () => {
    const { h } = host();
    answerJoin(h);
    h.deliver('2', { type: 'swim.ping_req', msg_id: 5, target: '3', incarnation: 0, updates: [] });
    const [ping] = h.takeSent();
    expect(ping).toMatchObject({ dest: '3', body: { type: 'swim.ping' } });
    h.deliver('3', { type: 'swim.ping_ok', in_reply_to: ping!.body.msg_id, incarnation: 0 });
    expect(h.takeSent()[0]).toMatchObject({ dest: '2', body: { type: 'swim.ping_req_ok', target: '3', in_reply_to: 5 } });
  });

  it('admits an unknown node that syncs with it and answers with the full member list', () => {
    const { h, proto } = host('1', ['1']);
    h.deliver('9', { type: 'swim.sync', msg_id: 3, incarnation: 2, members: [{ node: '9', state: 'alive', incarnation: 2 }] });
    expect(stateOf(proto, '9')).toMatchObject({ state: 'alive', incarnation: 2 });
    expect(h.events).toContainEqual({ type: 'member.alive', member: '9', incarnation: 2, via: '9' });
    expect(h.takeSent()[0]?.body).toMatchObject({
      type: 'swim.sync_ok',
      in_reply_to: 3,
      members: [
        { node: '1', state: 'alive', incarnation: 0 },
        { node: '9', state: 'alive', incarnation: 2 },
      ],
    });
  });

  it('ignores malformed updates and serves its status to clients', () => {
    const { h, proto } = host('1', ['1', '2']);
    h.takeSent();
    h.deliver('2', { type: 'swim.ping', msg_id: 1, incarnation: 0, updates: [{ node: 3 }, { node: '7', state: 'gone', incarnation: 1 }, null] });
    expect(proto.status().members.map((m) => m.node_id)).toEqual(['1', '2']);
    h.takeSent();
    h.deliver('client', { type: 'swim.status', msg_id: 4 });
    expect(h.takeSent()[0]?.body).toMatchObject({ type: 'swim.status_ok', in_reply_to: 4, self: '1', incarnation: 0, members: [{ node_id: '1' }, { node_id: '2' }] });
  });

  it('comes back from a restart with a higher incarnation', () => {
    const h = new ManualHost('1', IDS);
    h.storage.put('swim/incarnation', 3);
    h.runtime = new NodeRuntime(h, [swim()]);
    h.runtime.start();
    expect(h.runtime.protocol<Swim>('swim')!.status().incarnation).toBe(4);
  });
});

/** Every live member among `ids` sees `node` in `state`. */
function allSee(n: TestNet, node: NodeId, state: string, ids: NodeId[] = IDS): boolean {
  return ids
    .filter((id) => id !== node && n.isUp(id))
    .every((id) => n.protocol<Swim>(id, 'swim').status().members.find((m) => m.node_id === node)?.state === state);
}

function fullyAlive(n: TestNet, ids: NodeId[] = IDS): boolean {
  return ids.every((id) => {
    const members = n.protocol<Swim>(id, 'swim').status().members;
    return members.length === ids.length && members.every((m) => m.state === 'alive');
  });
}

/**
 * Worst case for every member to declare a crashed node dead: the slowest
 * round robin reaches it within 2(N-1) periods, then direct + indirect
 * timeout, the suspicion timeout, and a few periods for the verdict to spread.
 */
const DETECTION_BOUND = 2 * (IDS.length - 1) * C.probeIntervalMs + C.probeTimeoutMs + C.indirectTimeoutMs + SUSPICION_MS + 3 * C.probeIntervalMs;

describe('swim cluster', () => {
  it('every live member declares a crashed node dead within the bound, and only that node', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const n = new TestNet(IDS, () => [swim()], { seed, latencyMs: 1, jitterMs: 3 });
      n.run(3000);
      const victim = IDS[seed % IDS.length]!;
      n.crash(victim);
      const crashedAt = n.now;
      const took = n.runUntil(() => allSee(n, victim, 'dead'), DETECTION_BOUND);
      expect(took, `seed ${seed}`).toBeDefined();
      const dead = n.eventsOf('member.dead', crashedAt);
      expect(new Set(dead.map((e) => e.member))).toEqual(new Set([victim]));
      expect(new Set(dead.map((e) => e.node))).toEqual(new Set(IDS.filter((id) => id !== victim)));
      expect(n.eventsOf('member.dead', 0).filter((e) => e.time < crashedAt)).toEqual([]);
    }
  });

  it('declares no live node dead over 10 virtual minutes at 5% message loss', () => {
    for (const seed of [11, 12, 13]) {
      const n = new TestNet(IDS, () => [swim()], { seed, latencyMs: 1, jitterMs: 5, loss: 0.05 });
      n.run(10 * 60 * 1000);
      expect(n.eventsOf('member.dead'), `seed ${seed}`).toEqual([]);
      // the loss did make members suspect each other: the refutations are what saved them
      expect(n.eventsOf('member.suspected').length, `seed ${seed}`).toBeGreaterThan(0);
      expect(n.eventsOf('member.refuted').length, `seed ${seed}`).toBeGreaterThan(0);
      expect(fullyAlive(n), `seed ${seed}`).toBe(true);
    }
  }, 30_000); // ~1 s of wall time per seed; headroom for a busy machine

  it('a node started with one seed learns the whole membership, and everyone learns it', () => {
    const n = new TestNet(IDS, (id) => [swim({ seeds: id === '1' ? [] : ['1'] })], {
      seed: 7,
      roster: (id) => [id], // no roster: each node knows only itself and its seed
    });
    expect(n.runUntil(() => fullyAlive(n), 20 * C.probeIntervalMs)).toBeDefined();
  });

  it('a restarted node is alive again everywhere, at a higher incarnation', () => {
    const n = new TestNet(IDS, () => [swim()], { seed: 8, jitterMs: 3 });
    n.run(2000);
    n.crash('3');
    expect(n.runUntil(() => allSee(n, '3', 'dead'), DETECTION_BOUND)).toBeDefined();
    n.restart('3');
    expect(n.runUntil(() => allSee(n, '3', 'alive'), 10 * C.probeIntervalMs)).toBeDefined();
    expect(n.protocol<Swim>('1', 'swim').status().members.find((m) => m.node_id === '3')?.incarnation).toBeGreaterThan(0);
  });

  it('after a partition heals, the two sides find each other again', () => {
    const n = new TestNet(IDS, () => [swim()], { seed: 9, jitterMs: 3 });
    n.run(2000);
    n.partition(['1', '2'], ['3', '4', '5']);
    expect(n.runUntil(() => allSee(n, '1', 'dead', ['3', '4', '5']) && allSee(n, '4', 'dead', ['1', '2']), 2 * DETECTION_BOUND)).toBeDefined();
    n.heal();
    // the periodic sync with a random member (dead ones included) reconnects the sides
    expect(n.runUntil(() => fullyAlive(n), 6 * C.syncIntervalMs)).toBeDefined();
  });
});
