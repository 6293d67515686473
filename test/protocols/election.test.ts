import { describe, expect, it } from 'vitest';
import { DEFAULT_ELECTION_CONFIG, election, type Election, type ElectionConfig } from '../../src/protocols/election.js';
import { ErrorCode, type NodeId } from '../../src/protocols/envelope.js';
import { TestNet } from '../helpers/test-net.js';
import { ManualHost } from '../helpers/manual-host.js';

const IDS = ['1', '2', '3', '4', '5'];

function host(id: NodeId, config: Partial<ElectionConfig> = {}, cluster = ['1', '2', '3']) {
  const h = ManualHost.start(id, cluster, [election(config)]);
  const proto = h.runtime.protocol<Election>('election')!;
  return { h, proto };
}

function net(config: Partial<ElectionConfig>, seed = 1) {
  const n = new TestNet(IDS, () => [election(config)], { seed, latencyMs: 1, jitterMs: 2 });
  return n;
}

const status = (n: TestNet, id: NodeId) => n.protocol<Election>(id, 'election').status();

/** The leader every live node among `ids` agrees on and that leads in its own view, or undefined. */
function agreed(n: TestNet, ids: NodeId[] = IDS): NodeId | undefined {
  const live = ids.filter((id) => n.isUp(id));
  const views = live.map((id) => status(n, id));
  const leader = views[0]?.leader_id;
  if (!leader || views.some((v) => v.leader_id !== leader || v.election_in_progress)) return undefined;
  if (!live.includes(leader) || !status(n, leader).is_leader) return undefined;
  return leader;
}

/** Generous bound on a re-election after the leader dies: notice, elect, announce. */
const C = DEFAULT_ELECTION_CONFIG;
const REELECTION_BOUND = C.pingIntervalMs + C.pingTimeoutMs + C.electionTimeoutMs + C.coordinatorTimeoutMs + 500;

describe('bully election, one node by hand', () => {
  it('the highest id leads at once and announces COORDINATOR to every peer', () => {
    const { h, proto } = host('3');
    expect(proto.status()).toMatchObject({ leader_id: '3', is_leader: true, election_in_progress: false });
    expect(h.events.map((e) => e.type)).toEqual(['election.started', 'leader.changed']);
    const announced = h.takeSent().filter((m) => m.body.type === 'election.coordinator');
    expect(announced.map((m) => m.dest).sort()).toEqual(['1', '2']);
    expect(announced.every((m) => m.body.leader === '3')).toBe(true);
  });

  it('a lower node asks only higher ids, waits after an ALIVE and adopts the COORDINATOR', () => {
    const { h, proto } = host('2');
    const sent = h.takeSent();
    expect(sent.map((m) => [m.dest, m.body.type])).toEqual([['3', 'election.election']]);
    expect(proto.status().election_in_progress).toBe(true);
    h.deliver('3', { type: 'election.alive', in_reply_to: sent[0]!.body.msg_id });
    h.advance(DEFAULT_ELECTION_CONFIG.electionTimeoutMs * 2);
    expect(proto.status()).toMatchObject({ leader_id: null, election_in_progress: true });
    h.deliver('3', { type: 'election.coordinator', leader: '3' });
    expect(proto.status()).toMatchObject({ leader_id: '3', is_leader: false, election_in_progress: false });
    expect(h.events.at(-1)).toMatchObject({ type: 'leader.changed', leader: '3', epoch: 1 });
  });

  it('declares itself leader when no higher id answers in time', () => {
    const { h, proto } = host('2');
    h.takeSent();
    h.advance(DEFAULT_ELECTION_CONFIG.electionTimeoutMs);
    expect(proto.status()).toMatchObject({ leader_id: '2', is_leader: true });
    const coordinators = h.takeSent().filter((m) => m.body.type === 'election.coordinator');
    expect(coordinators.map((m) => m.dest).sort()).toEqual(['1', '3']);
  });

  it('restarts the election when the COORDINATOR never comes', () => {
    const { h } = host('2');
    const [first] = h.takeSent();
    h.deliver('3', { type: 'election.alive', in_reply_to: first!.body.msg_id });
    h.advance(DEFAULT_ELECTION_CONFIG.coordinatorTimeoutMs);
    expect(h.takeSent().filter((m) => m.body.type === 'election.election').map((m) => m.dest)).toEqual(['3']);
    expect(h.events.filter((e) => e.type === 'election.started').map((e) => e.reason)).toEqual(['boot', 'no_coordinator']);
  });

  it('answers ELECTION from a lower id with ALIVE and runs its own election', () => {
    const { h } = host('2');
    const [first] = h.takeSent();
    h.deliver('3', { type: 'election.coordinator', leader: '3' });
    h.deliver('1', { type: 'election.election', msg_id: 9 });
    const sent = h.takeSent();
    expect(sent[0]).toEqual({ src: '2', dest: '1', body: { type: 'election.alive', in_reply_to: 9 } });
    expect(sent[1]).toMatchObject({ dest: '3', body: { type: 'election.election' } });
    expect(sent[1]!.body.msg_id).not.toBe(first!.body.msg_id);
  });

  it('bullies a lower node that claims leadership', () => {
    const { h, proto } = host('3');
    h.takeSent();
    h.deliver('2', { type: 'election.coordinator', leader: '2' });
    expect(proto.status().leader_id).toBe('3');
    expect(h.events.filter((e) => e.type === 'election.started').map((e) => e.reason)).toEqual(['boot', 'lower_coordinator']);
    expect(h.takeSent().filter((m) => m.body.type === 'election.coordinator')).toHaveLength(2);
  });

  it('a follower pings its leader and starts an election when the ping goes unanswered', () => {
    const { h, proto } = host('1');
    h.deliver('3', { type: 'election.coordinator', leader: '3' });
    h.takeSent();
    h.advance(DEFAULT_ELECTION_CONFIG.pingIntervalMs);
    const pings = h.takeSent().filter((m) => m.body.type === 'election.ping');
    expect(pings.map((m) => m.dest)).toEqual(['3']);
    h.advance(DEFAULT_ELECTION_CONFIG.pingTimeoutMs);
    expect(proto.status().election_in_progress).toBe(true);
    expect(h.events.at(-1)).toMatchObject({ type: 'election.started', reason: 'leader_lost' });
  });

  it('acknowledges a COORDINATOR sent as a request, and rejects an unknown leader', () => {
    const { h, proto } = host('1');
    h.takeSent();
    h.deliver('client', { type: 'election.coordinator', leader: '3', msg_id: 4 });
    expect(h.takeSent()[0]?.body).toEqual({ type: 'election.coordinator_ok', leader: '3', in_reply_to: 4 });
    expect(proto.status().leader_id).toBe('3');
    h.deliver('client', { type: 'election.coordinator', leader: '99', msg_id: 5 });
    expect(h.takeSent()[0]?.body).toMatchObject({ type: 'error', code: ErrorCode.MalformedRequest, in_reply_to: 5 });
    expect(proto.status().leader_id).toBe('3');
  });

  it('serves election.status and election.start to clients', () => {
    const { h } = host('3');
    h.takeSent();
    h.deliver('client', { type: 'election.status', msg_id: 1 });
    expect(h.takeSent()[0]?.body).toEqual({
      type: 'election.status_ok',
      in_reply_to: 1,
      leader_id: '3',
      is_leader: true,
      election_in_progress: false,
      epoch: 1,
      algorithm: 'bully',
    });
    h.deliver('client', { type: 'election.start', msg_id: 2 });
    const sent = h.takeSent();
    expect(sent[0]?.body).toEqual({ type: 'election.start_ok', in_reply_to: 2 });
    expect(sent.filter((m) => m.body.type === 'election.coordinator')).toHaveLength(2);
  });
});

describe('lowest-id-alive election, one node by hand', () => {
  it('probes every peer and picks the smallest id that answered, itself included', () => {
    const { h, proto } = host('2', { algorithm: 'lowest' });
    const pings = h.takeSent();
    expect(pings.map((m) => [m.dest, m.body.type])).toEqual([
      ['1', 'election.ping'],
      ['3', 'election.ping'],
    ]);
    expect(proto.status().election_in_progress).toBe(true);
    h.deliver('3', { type: 'election.ping_ok', in_reply_to: pings[1]!.body.msg_id, leader: null });
    h.advance(DEFAULT_ELECTION_CONFIG.pingTimeoutMs); // 1 does not answer: asked again
    expect(h.takeSent().map((m) => [m.dest, m.body.type])).toEqual([['1', 'election.ping']]);
    expect(proto.status().leader_id).toBeNull();
    h.advance(DEFAULT_ELECTION_CONFIG.pingTimeoutMs); // 1 never answers
    expect(proto.status()).toMatchObject({ leader_id: '2', is_leader: true, election_in_progress: false });
  });

  it('keeps its leader when one ping to it is lost (regression: one lost ping handed leadership on)', () => {
    const { h, proto } = host('2', { algorithm: 'lowest' });
    for (const ping of h.takeSent()) h.deliver(ping.dest, { type: 'election.ping_ok', in_reply_to: ping.body.msg_id, leader: null });
    expect(proto.status().leader_id).toBe('1');
    h.advance(DEFAULT_ELECTION_CONFIG.pingIntervalMs); // the next round: the ping to 1 is lost, 3 answers
    const round = h.takeSent();
    h.deliver('3', { type: 'election.ping_ok', in_reply_to: round.find((m) => m.dest === '3')!.body.msg_id, leader: '1' });
    h.advance(DEFAULT_ELECTION_CONFIG.pingTimeoutMs);
    const retry = h.takeSent().find((m) => m.dest === '1')!;
    h.deliver('1', { type: 'election.ping_ok', in_reply_to: retry.body.msg_id, leader: '1' });
    expect(proto.status().leader_id).toBe('1');
    expect(h.events.filter((e) => e.type === 'leader.changed').map((e) => e.leader)).toEqual(['1']);
  });

  it('switches to a lower id as soon as it answers again', () => {
    const { h, proto } = host('2', { algorithm: 'lowest' });
    h.advance(DEFAULT_ELECTION_CONFIG.pingAttempts * DEFAULT_ELECTION_CONFIG.pingTimeoutMs);
    expect(proto.status().leader_id).toBe('2');
    h.takeSent();
    // the tick during that 2-attempt round found it still probing; the next tick starts a round
    h.advance(2 * DEFAULT_ELECTION_CONFIG.pingIntervalMs - DEFAULT_ELECTION_CONFIG.pingAttempts * DEFAULT_ELECTION_CONFIG.pingTimeoutMs);
    for (const ping of h.takeSent()) h.deliver(ping.dest, { type: 'election.ping_ok', in_reply_to: ping.body.msg_id, leader: null });
    expect(proto.status()).toMatchObject({ leader_id: '1', is_leader: false });
    expect(h.events.filter((e) => e.type === 'leader.changed').map((e) => e.leader)).toEqual(['2', '1']);
  });
});

describe.each([
  { algorithm: 'bully' as const, first: '5', next: '4' },
  { algorithm: 'lowest' as const, first: '1', next: '2' },
])('$algorithm election on 5 nodes', ({ algorithm, first, next }) => {
  it('elects the right leader', () => {
    const n = net({ algorithm });
    expect(n.runUntil(() => agreed(n) !== undefined, 3000)).toBeDefined();
    expect(agreed(n)).toBe(first);
    // what a client asking any node over the network sees
    expect(n.ask(IDS[2]!, { type: 'election.status' })).toMatchObject({ type: 'election.status_ok', leader_id: first, is_leader: IDS[2] === first });
  });

  it('re-elects the right node within a bound when the leader crashes', () => {
    for (const seed of [1, 2, 3]) {
      const n = net({ algorithm }, seed);
      n.run(2000);
      expect(agreed(n)).toBe(first);
      n.crash(first);
      const took = n.runUntil(() => agreed(n) === next, REELECTION_BOUND);
      expect(took, `seed ${seed}`).toBeDefined();
      n.run(3000);
      expect(agreed(n), `stable after re-election, seed ${seed}`).toBe(next);
    }
  });

  it('gives leadership back to the old leader when it returns', () => {
    const n = net({ algorithm });
    n.run(2000);
    n.crash(first);
    n.run(3000);
    expect(agreed(n)).toBe(next);
    const back = n.now;
    n.restart(first);
    expect(n.runUntil(() => agreed(n) === first, REELECTION_BOUND)).toBeDefined();
    // the interim leader yielded: it saw the change to the returning node
    expect(n.eventsOf('leader.changed', back, next).map((e) => e.leader)).toContain(first);
  });
});

describe('partitions', () => {
  it('bully: each side elects its own leader, and all converge on the highest after healing', () => {
    for (const seed of [1, 2, 3]) {
      const n = net({ algorithm: 'bully' }, seed);
      n.run(2000);
      n.partition(['1', '2', '3'], ['4', '5']);
      expect(n.runUntil(() => agreed(n, ['1', '2', '3']) === '3', REELECTION_BOUND), `seed ${seed}`).toBeDefined();
      expect(agreed(n, ['4', '5'])).toBe('5');
      n.heal();
      const took = n.runUntil(() => agreed(n) === '5', C.announceIntervalMs + REELECTION_BOUND);
      expect(took, `heal, seed ${seed}`).toBeDefined();
    }
  });

  it('bully: the lower side of a partition that held the leader elects the next highest', () => {
    const n = net({ algorithm: 'bully' });
    n.run(2000);
    n.partition(['5'], ['1', '2', '3', '4']);
    expect(n.runUntil(() => agreed(n, ['1', '2', '3', '4']) === '4', REELECTION_BOUND)).toBeDefined();
    expect(status(n, '5')).toMatchObject({ leader_id: '5', is_leader: true });
    n.heal();
    expect(n.runUntil(() => agreed(n) === '5', C.announceIntervalMs + REELECTION_BOUND)).toBeDefined();
  });

  it('lowest: each side follows its lowest id, and all follow 1 after healing', () => {
    const n = net({ algorithm: 'lowest' });
    n.run(2000);
    n.partition(['1', '2'], ['3', '4', '5']);
    expect(n.runUntil(() => agreed(n, ['3', '4', '5']) === '3', REELECTION_BOUND)).toBeDefined();
    expect(agreed(n, ['1', '2'])).toBe('1');
    n.heal();
    expect(n.runUntil(() => agreed(n) === '1', REELECTION_BOUND)).toBeDefined();
  });
});
