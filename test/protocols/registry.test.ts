import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocols/envelope.js';
import { DEFAULT_REGISTRY_CONFIG, registry, type Registry, type RegistryEntry } from '../../src/protocols/registry.js';
import { TestNet } from '../helpers/test-net.js';
import { ManualHost } from '../helpers/manual-host.js';

const C = DEFAULT_REGISTRY_CONFIG;

function registryHost() {
  const h = ManualHost.start('r', ['r', 'a', 'b'], [registry({ url: 'http://127.0.0.1:7000' })]);
  return { h, proto: h.runtime.protocol<Registry>('registry')! };
}

function nodesOf(h: ManualHost): RegistryEntry[] {
  h.deliver('client', { type: 'registry.nodes', msg_id: 999 });
  const reply = h.takeSent().find((m) => m.body.in_reply_to === 999);
  return reply!.body.nodes as RegistryEntry[];
}

describe('registry node', () => {
  it('registers a node, lists it with its url, and counts time since it was last seen', () => {
    const { h } = registryHost();
    h.deliver('a', { type: 'registry.register', msg_id: 1, node_id: 'a', url: 'http://127.0.0.1:7001' });
    expect(h.takeSent()[0]?.body).toEqual({ type: 'registry.register_ok', node_id: 'a', in_reply_to: 1 });
    expect(h.events.filter((e) => e.type === 'member.joined').map((e) => e.member)).toEqual(['r', 'a']);
    h.advance(1200);
    expect(nodesOf(h)).toEqual([
      { node_id: 'a', url: 'http://127.0.0.1:7001', last_seen_ms_ago: 1200, status: 'alive' },
      { node_id: 'r', url: 'http://127.0.0.1:7000', last_seen_ms_ago: 1200 % C.sweepIntervalMs, status: 'alive' },
    ]);
  });

  it('keeps a heartbeating node alive and expires a silent one', () => {
    const { h } = registryHost();
    h.deliver('a', { type: 'registry.register', msg_id: 1, node_id: 'a' });
    h.deliver('b', { type: 'registry.register', msg_id: 1, node_id: 'b' });
    for (let t = 0; t < 4 * C.expiryMs; t += C.heartbeatIntervalMs) {
      h.advance(C.heartbeatIntervalMs);
      h.deliver('a', { type: 'registry.heartbeat', msg_id: 2, node_id: 'a' });
    }
    const dead = h.events.filter((e) => e.type === 'member.dead');
    expect(dead.map((e) => e.member)).toEqual(['b']);
    expect(dead[0]!.last_seen_ms_ago as number).toBeGreaterThan(C.expiryMs);
    expect(dead[0]!.last_seen_ms_ago as number).toBeLessThanOrEqual(C.expiryMs + C.sweepIntervalMs);
    expect(nodesOf(h).map((n) => [n.node_id, n.status])).toEqual([
      ['a', 'alive'],
      ['b', 'dead'],
      ['r', 'alive'],
    ]);
  });

  it('refuses heartbeats from unknown or expired nodes until they register again', () => {
    const { h } = registryHost();
    h.deliver('x', { type: 'registry.heartbeat', msg_id: 1, node_id: 'x' });
    expect(h.takeSent()[0]?.body).toMatchObject({ type: 'error', code: ErrorCode.KeyDoesNotExist, in_reply_to: 1 });
    h.deliver('b', { type: 'registry.register', msg_id: 2, node_id: 'b' });
    h.advance(C.expiryMs + C.sweepIntervalMs);
    h.takeSent();
    h.deliver('b', { type: 'registry.heartbeat', msg_id: 3, node_id: 'b' });
    expect(h.takeSent()[0]?.body).toMatchObject({ type: 'error', code: ErrorCode.KeyDoesNotExist, text: expect.stringMatching(/expired/) });
    h.deliver('b', { type: 'registry.register', msg_id: 4, node_id: 'b' });
    expect(h.events.at(-1)).toMatchObject({ type: 'member.joined', member: 'b', rejoined: true });
    expect(nodesOf(h).find((n) => n.node_id === 'b')?.status).toBe('alive');
  });

  it('rejects malformed requests with a definite error', () => {
    const { h } = registryHost();
    h.deliver('c', { type: 'registry.register', msg_id: 1 });
    h.deliver('c', { type: 'registry.register', msg_id: 2, node_id: 'c', url: 42 });
    h.deliver('c', { type: 'registry.heartbeat', msg_id: 3, node_id: '' });
    expect(h.takeSent().map((m) => m.body.code)).toEqual([ErrorCode.MalformedRequest, ErrorCode.MalformedRequest, ErrorCode.MalformedRequest]);
    expect(nodesOf(h).map((n) => n.node_id)).toEqual(['r']);
  });

  it('a node that is not the registry points the caller to it', () => {
    const h = ManualHost.start('a', ['r', 'a'], [registry()]);
    h.takeSent();
    h.deliver('client', { type: 'registry.nodes', msg_id: 5 });
    expect(h.takeSent()[0]?.body).toMatchObject({ type: 'error', code: ErrorCode.NotSupported, registry: 'r', in_reply_to: 5 });
  });
});

describe('heartbeating member', () => {
  it('registers on start, heartbeats every interval, and registers again when refused', () => {
    const h = ManualHost.start('a', ['r', 'a'], [registry({ url: 'http://127.0.0.1:7001' })]);
    const proto = h.runtime.protocol<Registry>('registry')!;
    const [reg] = h.takeSent();
    expect(reg).toMatchObject({ dest: 'r', body: { type: 'registry.register', node_id: 'a', url: 'http://127.0.0.1:7001' } });
    h.deliver('r', { type: 'registry.register_ok', node_id: 'a', in_reply_to: reg!.body.msg_id });
    expect(proto.status()).toMatchObject({ role: 'member', registry: 'r', registered: true });

    h.advance(C.heartbeatIntervalMs);
    const [beat] = h.takeSent();
    expect(beat).toMatchObject({ dest: 'r', body: { type: 'registry.heartbeat', node_id: 'a' } });
    h.deliver('r', { type: 'error', code: ErrorCode.KeyDoesNotExist, text: 'expired', in_reply_to: beat!.body.msg_id });
    expect(proto.status()).toMatchObject({ registered: false });
    expect(h.takeSent().map((m) => m.body.type)).toEqual(['registry.register']);
  });

  it('keeps trying to register while the registry does not answer', () => {
    const h = ManualHost.start('a', ['r', 'a'], [registry()]);
    h.advance(3 * C.heartbeatIntervalMs);
    const sent = h.takeSent().map((m) => m.body.type);
    expect(sent).toEqual(['registry.register', 'registry.register', 'registry.register', 'registry.register']);
  });
});

describe('registry cluster', () => {
  const ids = ['r', 'a', 'b', 'c'];
  const table = (n: TestNet) => n.protocol<Registry>('r', 'registry').status() as { nodes: RegistryEntry[] };
  const alive = (n: TestNet) => table(n).nodes.filter((e) => e.status === 'alive').map((e) => e.node_id);

  it('sees every node, expires a crashed one within the timeout, and takes it back after a restart', () => {
    const n = new TestNet(ids, () => [registry()], { seed: 3, jitterMs: 5 });
    n.run(100);
    expect(alive(n)).toEqual(['a', 'b', 'c', 'r']);
    n.run(5000);
    n.crash('b');
    const crashedAt = n.now;
    expect(n.runUntil(() => !alive(n).includes('b'), C.expiryMs + C.heartbeatIntervalMs + C.sweepIntervalMs)).toBeDefined();
    const [dead] = n.eventsOf('member.dead');
    expect(dead).toMatchObject({ node: 'r', member: 'b' });
    expect(dead!.time - crashedAt).toBeGreaterThan(C.expiryMs - C.heartbeatIntervalMs);
    expect(n.eventsOf('member.dead')).toHaveLength(1); // nobody else was declared dead
    n.restart('b');
    expect(n.runUntil(() => alive(n).includes('b'), 100)).toBeDefined();
    // a client sees the same table through the registry.nodes operation
    const reply = n.ask('r', { type: 'registry.nodes' });
    expect(reply?.type).toBe('registry.nodes_ok');
    expect((reply!.nodes as RegistryEntry[]).map((e) => [e.node_id, e.status])).toEqual([
      ['a', 'alive'],
      ['b', 'alive'],
      ['c', 'alive'],
      ['r', 'alive'],
    ]);
    expect(n.eventsOf('member.joined', crashedAt)).toMatchObject([{ member: 'b', rejoined: true }]);
  });

  it('costs one register and one heartbeat per interval per member, each answered', () => {
    const n = new TestNet(ids, () => [registry()], { seed: 5 });
    n.run(10 * C.heartbeatIntervalMs + C.heartbeatIntervalMs / 2);
    const members = ids.length - 1;
    expect(n.sent).toHaveLength(members * (2 + 10 * 2));
  });

  it('members register again after the registry restarts with an empty table', () => {
    const n = new TestNet(ids, () => [registry()], { seed: 4 });
    n.run(1000);
    n.crash('r');
    n.run(5000);
    n.restart('r');
    expect(alive(n)).toEqual(['r']);
    expect(n.runUntil(() => alive(n).length === 4, C.heartbeatIntervalMs + C.requestTimeoutMs)).toBeDefined();
  });
});
