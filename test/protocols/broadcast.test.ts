import { describe, expect, it } from 'vitest';
import { broadcast, type Broadcast } from '../../src/protocols/broadcast.js';
import { ErrorCode } from '../../src/protocols/envelope.js';
import { TestNet, type ClientCall } from '../helpers/test-net.js';
import { NodeRuntime } from '../../src/protocols/runtime.js';
import { ManualHost } from '../helpers/manual-host.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

/** The client calls sendValues made on each net, for expectAcknowledged. */
const sends = new WeakMap<TestNet, Array<{ value: number; call: ClientCall }>>();

/** Sends `count` values, one every `everyMs`, each to a node picked round-robin by a stride. */
function sendValues(net: TestNet, count: number, everyMs: number, first = 0): number[] {
  const values: number[] = [];
  const calls = sends.get(net) ?? [];
  sends.set(net, calls);
  for (let i = 0; i < count; i++) {
    const value = first + i;
    const node = net.members[(value * 7) % net.members.length] as string;
    calls.push({ value, call: net.request(node, { type: 'broadcast.send', value }) });
    net.run(everyMs);
    values.push(value);
  }
  return values;
}

/** Every value of `values` that sendValues sent was answered send_ok. */
function expectAcknowledged(net: TestNet, values: readonly unknown[]): void {
  const calls = (sends.get(net) ?? []).filter((c) => values.includes(c.value));
  expect(calls.length).toBeGreaterThan(0);
  expect(calls.filter((c) => c.call.reply?.type !== 'broadcast.send_ok').map((c) => c.value)).toEqual([]);
}

const texts = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();

/** What each node holds, as sorted JSON texts. */
function holdings(net: TestNet, nodes = net.members): Map<string, string[]> {
  return new Map(nodes.map((id) => [id, texts(net.protocol<Broadcast>(id, 'broadcast').read())]));
}

function everyoneHas(net: TestNet, values: unknown[], nodes = net.members): boolean {
  const want = texts(values);
  return [...holdings(net, nodes).values()].every((held) => want.every((v) => held.includes(v)));
}

/** Every node holds exactly the values sent: none lost, none invented, none twice; one delivery event each. */
function expectExactly(net: TestNet, values: unknown[], nodes = net.members): void {
  const want = texts(values);
  for (const [id, held] of holdings(net, nodes)) {
    expect(held, `values on ${id}`).toEqual(want);
    const delivered = net.eventsOf('broadcast.delivered', 0, id).map((e) => e['value']);
    expect(texts(delivered), `delivered events on ${id}`).toEqual(want);
  }
}

describe('broadcast (many values, fault-tolerant)', () => {
  it('acknowledges a send, delivers locally at once, and answers a read', () => {
    const host = ManualHost.start('n1', ['n0', 'n1', 'n2'], [broadcast()]);
    host.deliver('c1', { type: 'broadcast.send', msg_id: 1, value: 42 });
    host.deliver('c1', { type: 'broadcast.read', msg_id: 2 });
    // the value is readable at once, but acknowledged only once it is durable
    expect(host.takeSent().map((m) => m.body)).toEqual([{ type: 'broadcast.read_ok', values: [42], in_reply_to: 2 }]);
    host.advance(0);
    expect(host.takeSent().map((m) => m.body)).toEqual([{ type: 'broadcast.send_ok', in_reply_to: 1 }]);
    expect(host.storage.keys()).toHaveLength(1);
    expect(host.events).toEqual([{ type: 'broadcast.delivered', value: 42 }]);
  });

  it('batches new values and sends them to the relay, which fans them out to everyone but the sender', () => {
    const leaf = ManualHost.start('n2', ['n0', 'n1', 'n2', 'n3'], [broadcast({ syncIntervalMs: 0, flushIntervalMs: 50 })]);
    leaf.deliver('c1', { type: 'broadcast.send', msg_id: 1, value: 'a' });
    leaf.deliver('c1', { type: 'broadcast.send', msg_id: 2, value: 'b' });
    leaf.advance(0);
    expect(leaf.takeSent().map((m) => m.body.type)).toEqual(['broadcast.send_ok', 'broadcast.send_ok']);
    leaf.advance(49);
    expect(leaf.takeSent()).toEqual([]);
    leaf.advance(1);
    expect(leaf.takeSent()).toMatchObject([{ dest: 'n0', body: { type: 'broadcast.batch', values: ['a', 'b'], relay: true } }]);

    const hub = ManualHost.start('n0', ['n0', 'n1', 'n2', 'n3'], [broadcast({ syncIntervalMs: 0, flushIntervalMs: 50 })]);
    hub.deliver('n2', { type: 'broadcast.batch', msg_id: 9, values: ['a', 'b'], relay: true });
    hub.advance(0);
    expect(hub.takeSent()).toEqual([{ src: 'n0', dest: 'n2', body: { type: 'broadcast.batch_ok', in_reply_to: 9 } }]);
    hub.deliver('n2', { type: 'broadcast.batch', msg_id: 10, values: ['b'], relay: true }); // a retransmission
    expect(hub.takeSent()).toEqual([{ src: 'n0', dest: 'n2', body: { type: 'broadcast.batch_ok', in_reply_to: 10 } }]);
    hub.advance(50);
    const out = hub.takeSent();
    expect(out.map((m) => m.dest).sort()).toEqual(['n1', 'n3']);
    for (const m of out) expect(m.body).toMatchObject({ type: 'broadcast.batch', values: ['a', 'b'], relay: false });
  });

  it('relays a value it is asked to relay even when it already held it (learnt without passing it on)', () => {
    const hub = ManualHost.start('n0', ['n0', 'n1', 'n2', 'n3'], [broadcast({ syncIntervalMs: 0, flushIntervalMs: 50 })]);
    hub.deliver('n3', { type: 'broadcast.batch', msg_id: 1, values: ['x'], relay: false });
    hub.advance(100);
    hub.takeSent();
    hub.deliver('n2', { type: 'broadcast.batch', msg_id: 2, values: ['x'], relay: true });
    hub.advance(50);
    const fanOut = hub.takeSent().filter((m) => m.body.type === 'broadcast.batch');
    expect(fanOut.map((m) => m.dest).sort()).toEqual(['n1', 'n3']);
    expect(hub.events).toEqual([{ type: 'broadcast.delivered', value: 'x' }]);
  });

  it('reloads its values after a restart, even with gaps on disk, and overwrites none of them', () => {
    const host = new ManualHost('n1', ['n0', 'n1']);
    host.storage.put('broadcast/v/000000000001', 'a');
    host.storage.put('broadcast/v/000000000003', 'c'); // slot 2 never became durable
    host.runtime = new NodeRuntime(host, [broadcast({ syncIntervalMs: 0 })]);
    host.runtime.start();
    host.deliver('c1', { type: 'broadcast.send', msg_id: 1, value: 'd' });
    host.deliver('c1', { type: 'broadcast.read', msg_id: 2 });
    expect(host.takeSent().find((m) => m.body.type === 'broadcast.read_ok')?.body.values).toEqual(['a', 'c', 'd']);
    expect(host.storage.keys().map((k) => host.storage.get(k))).toEqual(['a', 'c', 'd']);
    expect(host.events).toEqual([{ type: 'broadcast.delivered', value: 'd' }]); // reloaded values were delivered before
    host.advance(50);
    expect(host.takeSent()).toMatchObject([
      { dest: 'c1', body: { type: 'broadcast.send_ok' } },
      { dest: 'n0', body: { type: 'broadcast.batch', values: ['a', 'c', 'd'], relay: true } },
    ]);
  });

  it('retransmits an unacknowledged batch until it is acknowledged', () => {
    const host = ManualHost.start('n0', ['n0', 'n1'], [broadcast({ syncIntervalMs: 0, flushIntervalMs: 10, ackTimeoutMs: 100 })]);
    host.deliver('c1', { type: 'broadcast.send', msg_id: 1, value: 7 });
    host.advance(0);
    host.takeSent(); // the send_ok
    host.advance(10);
    const first = host.takeSent();
    expect(first).toMatchObject([{ dest: 'n1', body: { type: 'broadcast.batch', values: [7] } }]);
    host.advance(100); // timeout, then one more flush interval
    host.advance(10);
    const again = host.takeSent();
    expect(again).toMatchObject([{ dest: 'n1', body: { type: 'broadcast.batch', values: [7] } }]);
    host.deliver('n1', { type: 'broadcast.batch_ok', in_reply_to: again[0]?.body.msg_id });
    host.advance(1_000);
    expect(host.takeSent()).toEqual([]);
  });

  it('rejects a send without a value and a batch without a values array', () => {
    const host = ManualHost.start('n0', ['n0', 'n1'], [broadcast()]);
    host.deliver('c1', { type: 'broadcast.send', msg_id: 1 });
    host.deliver('n1', { type: 'broadcast.batch', msg_id: 2, values: 'nope' });
    expect(host.takeSent().map((m) => m.body)).toMatchObject([
      { type: 'error', code: ErrorCode.MalformedRequest, in_reply_to: 1 },
      { type: 'error', code: ErrorCode.MalformedRequest, in_reply_to: 2 },
    ]);
    expect(host.events).toEqual([]);
  });

  it('gets every value to every node, none invented, each delivered once', () => {
    // anti-entropy off: the relay path alone must do it
    const net = new TestNet(ids(5), () => [broadcast({ syncIntervalMs: 0 })], { latencyMs: 10 });
    const values = sendValues(net, 40, 5);
    expect(net.runUntil(() => everyoneHas(net, values), 10_000)).toBeDefined();
    net.run(2_000);
    expectAcknowledged(net, values);
    expectExactly(net, values);
  });

  it('is unharmed by duplicated and reordered messages', () => {
    let flip = 0;
    const net = new TestNet(ids(7), () => [broadcast()], {
      // every message arrives twice, at delays that cross each other
      route: () => (flip++ % 2 === 0 ? [5, 40] : [30, 12]),
    });
    const values = [...sendValues(net, 30, 3), 'text', { nested: [1, 2] }];
    net.request('n3', { type: 'broadcast.send', value: 'text' });
    net.request('n5', { type: 'broadcast.send', value: { nested: [1, 2] } });
    net.request('n6', { type: 'broadcast.send', value: 'text' }); // the same value again, elsewhere
    expect(net.runUntil(() => everyoneHas(net, values), 10_000)).toBeDefined();
    net.run(2_000);
    expectAcknowledged(net, values);
    expectExactly(net, values);
  });

  it('loses no value across a partition, including one that cuts off the relay, once it heals', () => {
    const nodes = ids(9);
    // anti-entropy off: retransmission alone must carry every value across
    const net = new TestNet(nodes, () => [broadcast({ syncIntervalMs: 0 })], { latencyMs: 20 });
    const before = sendValues(net, 10, 10);
    net.partition(['n0', 'n1', 'n2'], ['n3', 'n4', 'n5', 'n6', 'n7', 'n8']);
    const during = sendValues(net, 60, 10, 100);
    net.run(3_000);
    // during the partition, values stay on their own side
    const heldByN0 = net.protocol<Broadcast>('n0', 'broadcast').read();
    expect(during.filter((v) => !heldByN0.includes(v)).length).toBeGreaterThan(0);
    net.heal();
    const after = sendValues(net, 10, 10, 1000);
    const all = [...before, ...during, ...after];
    expect(net.runUntil(() => everyoneHas(net, all), 20_000)).toBeDefined();
    net.run(2_000);
    expectAcknowledged(net, all);
    expectExactly(net, all);
  });

  it('loses no value across a one-way partition', () => {
    const net = new TestNet(ids(5), () => [broadcast({ syncIntervalMs: 0 })], { latencyMs: 10 });
    for (const other of ['n0', 'n1', 'n2', 'n3']) net.cut('n4', other); // n4 can hear but not speak
    const values = sendValues(net, 30, 10);
    net.run(2_000);
    net.heal();
    expect(net.runUntil(() => everyoneHas(net, values), 20_000)).toBeDefined();
    expectAcknowledged(net, values);
    expectExactly(net, values);
  });

  it('routes round a crashed relay: the survivors still get every value', () => {
    const net = new TestNet(ids(6), () => [broadcast({ syncIntervalMs: 0 })], { latencyMs: 10 });
    net.crash('n0');
    const values = sendValues(net, 40, 10).filter((v) => net.members[(v * 7) % 6] !== 'n0');
    const live = ids(6).slice(1);
    expect(net.runUntil(() => everyoneHas(net, values, live), 20_000)).toBeDefined();
    net.run(2_000);
    expectAcknowledged(net, values);
    expectExactly(net, values, live);
  });

  it('keeps what it acknowledged across a restart and hands it on', () => {
    const net = new TestNet(ids(5), () => [broadcast({ syncIntervalMs: 0 })], { latencyMs: 10 });
    net.partition(['n3'], ['n0', 'n1', 'n2', 'n4']);
    const call = net.request('n3', { type: 'broadcast.send', value: 'only on n3' });
    net.run(100);
    expect(call.reply?.type).toBe('broadcast.send_ok');
    net.crash('n3'); // before it could pass the value on
    net.heal();
    net.restart('n3');
    expect(net.protocol<Broadcast>('n3', 'broadcast').read()).toEqual(['only on n3']);
    expect(net.runUntil(() => everyoneHas(net, ['only on n3']), 10_000)).toBeDefined();
  });

  it('brings a restarted node that lost its disk back up to date by anti-entropy alone', () => {
    const net = new TestNet(ids(5), () => [broadcast()], { latencyMs: 10 });
    const values = sendValues(net, 20, 10);
    net.runUntil(() => everyoneHas(net, values), 10_000);
    net.run(1_000); // every batch acknowledged: nobody owes n3 anything any more
    net.crash('n3');
    net.restart('n3', { wipe: true });
    expect(net.protocol<Broadcast>('n3', 'broadcast').read()).toEqual([]);
    expect(net.runUntil(() => everyoneHas(net, values), 30_000)).toBeDefined();
  });

  it('measures the Maelstrom workload in miniature (25 nodes, 100 ms, 100 values/s): figures printed, correctness asserted', () => {
    const net = new TestNet(ids(25), () => [broadcast()], { latencyMs: 100 });
    const values = sendValues(net, 300, 10); // 3 s at 100/s
    expect(net.runUntil(() => everyoneHas(net, values), 10_000)).toBeDefined();
    const messages = net.sent.length;
    expectAcknowledged(net, values);
    expectExactly(net, values);
    // latency of a value: from its first delivery (the node the client chose) to its last
    const first = new Map<unknown, number>();
    const last = new Map<unknown, number>();
    for (const e of net.eventsOf('broadcast.delivered')) {
      if (!first.has(e['value'])) first.set(e['value'], e.time);
      last.set(e['value'], e.time);
    }
    const lat = values.map((v) => (last.get(v) as number) - (first.get(v) as number)).sort((a, b) => a - b);
    const median = lat[Math.floor(lat.length / 2)];
    console.log(`broadcast 25 nodes / 100 ms / 100 op/s: ${(messages / values.length).toFixed(1)} msgs-per-op, stable latency median ${median} ms, max ${lat[lat.length - 1]} ms`);
  });
});

describe('broadcast under random faults', () => {
  /** mulberry32: a seeded PRNG for the fault schedule. */
  function prng(seed: number): () => number {
    let s = seed;
    return () => {
      let t = (s += 0x6d2b79f5);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('after healing, every acknowledged value is on every node and nothing else is (20 seeds: loss, duplication, reordering, partitions, crashes)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      let faulty = true;
      const net = new TestNet(ids(7), () => [broadcast()], {
        seed,
        route: () => {
          const delay = 5 + Math.floor(rnd() * 40);
          if (!faulty) return [delay];
          if (rnd() < 0.1) return []; // lost
          if (rnd() < 0.1) return [delay, 5 + Math.floor(rnd() * 80)]; // duplicated, maybe reordered
          return [delay];
        },
      });
      const calls: Array<{ value: number; call: ReturnType<TestNet['request']> }> = [];
      const down = new Set<string>();
      for (let step = 0; step < 60; step++) {
        const node = net.members[Math.floor(rnd() * net.members.length)] as string;
        if (!down.has(node)) calls.push({ value: step, call: net.request(node, { type: 'broadcast.send', value: step }) });
        const r = rnd();
        if (r < 0.05) {
          const shuffled = [...net.members].sort(() => rnd() - 0.5);
          const cut = 1 + Math.floor(rnd() * (net.members.length - 1));
          net.heal();
          net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        } else if (r < 0.08) {
          net.heal();
        } else if (r < 0.11 && down.size < 2) {
          const victim = net.members[Math.floor(rnd() * net.members.length)] as string;
          if (!down.has(victim)) (net.crash(victim), down.add(victim));
        } else if (r < 0.14 && down.size > 0) {
          const back = [...down][0] as string;
          (net.restart(back), down.delete(back));
        }
        net.run(20 + Math.floor(rnd() * 60));
      }
      // heal everything, and give the network a moment
      faulty = false;
      net.heal();
      for (const id of down) net.restart(id);
      const acked = calls.filter((c) => c.call.reply?.type === 'broadcast.send_ok').map((c) => c.value);
      const converged = net.runUntil(() => everyoneHas(net, acked), 30_000);
      expect(converged, `seed ${seed}: acknowledged values reach every node`).toBeDefined();
      const sent = new Set(calls.map((c) => JSON.stringify(c.value)));
      for (const [id, held] of holdings(net)) {
        expect(held.filter((v) => !sent.has(v)), `seed ${seed}: values invented on ${id}`).toEqual([]);
        expect(new Set(held).size, `seed ${seed}: a value twice on ${id}`).toBe(held.length);
      }
    }
  });
});
