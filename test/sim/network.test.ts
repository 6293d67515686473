import { describe, expect, it } from 'vitest';
import type { Body } from '../../src/protocols/envelope.js';
import type { StampedEvent } from '../../src/protocols/env.js';
import { parsePartition, schedulePartitions } from '../../src/sim/faults.js';
import { parseLatency, SimConfigError, type NetworkConfig } from '../../src/sim/network.js';
import { World, nodeIds } from '../../src/sim/world.js';
import { newLog, probe } from './probe.js';

function world(network: Partial<NetworkConfig> = {}, n = 3, seed = 1, diskDelayMs = 1) {
  const log = newLog();
  const w = new World({ seed, nodes: nodeIds(n), protocols: [probe(log)], network, diskDelayMs });
  w.start();
  const env = (id: string) => log.envs.get(id)!;
  const from = (src: string, dest: string) => log.received.filter((r) => r.msg.src === src && r.msg.dest === dest);
  return { w, log, env, from };
}

describe('network model', () => {
  it('loses roughly the configured fraction of messages', () => {
    const { w, env, from } = world({ loss: 0.2 });
    for (let i = 0; i < 10_000; i++) env('1').send('2', { type: 'probe.ping', n: i });
    w.runFor(1000);
    const delivered = from('1', '2').length;
    expect(delivered / 10_000).toBeGreaterThan(0.77);
    expect(delivered / 10_000).toBeLessThan(0.83);
    expect(w.stats.dropped.loss).toBe(10_000 - delivered);
    expect(w.stats.servers.delivered).toBe(delivered);
  });

  it('duplicates messages when told to, and counts the copies', () => {
    const { w, env, from } = world({ duplicate: 1 });
    for (let i = 0; i < 10; i++) env('1').send('2', { type: 'probe.ping', n: i });
    w.runFor(1000);
    expect(from('1', '2')).toHaveLength(20);
    expect(w.stats.duplicated).toBe(10);
  });

  it('keeps a link in order under constant latency and reorders under varying latency', () => {
    const order = (latency: NetworkConfig['latency']) => {
      const { w, env, from } = world({ latency });
      for (let i = 0; i < 200; i++) env('1').send('2', { type: 'probe.ping', n: i });
      w.runFor(10_000);
      return from('1', '2').map((r) => r.msg.body.n as number);
    };
    const constant = order({ kind: 'constant', ms: 50 });
    expect(constant).toEqual([...constant].sort((a, b) => a - b));
    const varying = order({ kind: 'uniform', min: 10, max: 200 });
    expect(varying).toHaveLength(200);
    expect(varying).not.toEqual([...varying].sort((a, b) => a - b));
  });

  it('draws latencies within the distribution', () => {
    const { w, env, from } = world({ latency: { kind: 'uniform', min: 50, max: 150 } });
    for (let i = 0; i < 500; i++) env('1').send('2', { type: 'probe.ping', n: i });
    w.runFor(1000);
    const times = from('1', '2').map((r) => r.at);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...times)).toBeLessThanOrEqual(150);
    const exp = world({ latency: { kind: 'exponential', floor: 20, mean: 30 } });
    for (let i = 0; i < 2000; i++) exp.env('1').send('2', { type: 'probe.ping', n: i });
    exp.w.runFor(10_000);
    const ts = exp.from('1', '2').map((r) => r.at);
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(20);
    const mean = ts.reduce((a, b) => a + b, 0) / ts.length;
    expect(mean).toBeGreaterThan(45);
    expect(mean).toBeLessThan(55);
  });

  it('a one-way partition blocks exactly the named direction', () => {
    const { w, env, from } = world();
    w.network.block({ from: ['1'], to: ['2'] });
    for (const [s, d] of [['1', '2'], ['2', '1'], ['1', '3'], ['3', '2']] as const) env(s).send(d, { type: 'probe.ping' });
    w.runFor(100);
    expect(from('1', '2')).toHaveLength(0);
    expect(from('2', '1')).toHaveLength(1);
    expect(from('1', '3')).toHaveLength(1);
    expect(from('3', '2')).toHaveLength(1);
    expect(w.stats.dropped.partition).toBe(1);
  });

  it('a two-way split blocks both directions between groups, not within them, and heals', () => {
    const { w, env, from } = world({}, 4);
    const handles = w.network.split([['1', '2'], ['3', '4']]);
    const all = () => {
      for (const s of ['1', '2', '3', '4']) for (const d of ['1', '2', '3', '4']) if (s !== d) env(s).send(d, { type: 'probe.ping' });
      w.runFor(100);
    };
    all();
    expect(from('1', '2')).toHaveLength(1);
    expect(from('4', '3')).toHaveLength(1);
    for (const [s, d] of [['1', '3'], ['3', '1'], ['2', '4'], ['4', '2']]) expect(from(s!, d!)).toHaveLength(0);
    handles.forEach((h) => w.network.heal(h));
    all();
    expect(from('1', '3')).toHaveLength(1);
  });

  it('does not partition client traffic', () => {
    const { w } = world();
    w.network.split([['1'], ['2', '3']]);
    const replies: Body[] = [];
    w.client('c1').request('1', { type: 'probe.ping', n: 5 }, (r) => replies.push(r));
    w.runFor(100);
    expect(replies).toEqual([expect.objectContaining({ type: 'probe.ping_ok', n: 5 })]);
  });

  it('a crash drops the messages in flight to the node, even if it is back when they arrive', () => {
    const { w, env, from } = world({ latency: { kind: 'constant', ms: 100 } });
    env('1').send('2', { type: 'probe.ping', n: 1 });
    w.runFor(50);
    w.crash('2');
    expect(w.isUp('2')).toBe(false);
    expect(w.liveNodes()).toEqual(['1', '3']);
    w.runFor(10);
    w.restart('2');
    expect(w.isUp('2')).toBe(true);
    w.runFor(100);
    expect(from('1', '2')).toHaveLength(0);
    expect(w.stats.dropped.crash).toBe(1);
    env('1').send('2', { type: 'probe.ping', n: 2 }); // the new incarnation gets new messages
    w.runFor(200);
    expect(from('1', '2').map((r) => r.msg.body.n)).toEqual([2]);
  });

  it('a crash cancels the node\'s timers', () => {
    const { w, env } = world();
    let fired = 0;
    env('2').setTimer(100, () => fired++);
    w.runFor(50);
    w.crash('2');
    w.restart('2');
    w.runFor(200);
    expect(fired).toBe(0);
  });

  it('a restart keeps durable writes and loses those not yet durable', () => {
    const { w, env, log } = world({}, 3, 1, 10);
    const durable: string[] = [];
    env('1').storage.put('a', { v: 1 }, () => durable.push('a'));
    w.runFor(15);
    env('1').storage.put('b', 2, () => durable.push('b'));
    w.runFor(5);
    expect(env('1').storage.get('b')).toBe(2); // visible at once
    w.crash('1');
    w.runFor(20);
    w.restart('1');
    const fresh = log.envs.get('1')!;
    expect(fresh.storage.get('a')).toEqual({ v: 1 });
    expect(fresh.storage.get('b')).toBeUndefined();
    expect(durable).toEqual(['a']);
  });

  it('answers a client with a timeout error when the node is down', () => {
    const { w } = world();
    w.crash('2');
    const replies: Body[] = [];
    w.client('c1').request('2', { type: 'probe.ping' }, (r) => replies.push(r), 300);
    w.runFor(299);
    expect(replies).toEqual([]);
    w.runFor(1);
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 0 })]);
  });

  it('counts messages to nobody as dropped', () => {
    const { w, env } = world();
    env('1').send('ghost', { type: 'probe.ping' });
    expect(w.stats.dropped.unknown).toBe(1);
  });
});

describe('partition schedules', () => {
  it('applies a windowed split only inside its window', () => {
    const { w, env, from } = world({}, 4);
    schedulePartitions(w, [parsePartition('1,2/3-4@1s-2s')], 10_000);
    const ping = (t: number) => {
      w.runUntil(t);
      env('1').send('3', { type: 'probe.ping', n: t });
    };
    ping(500);
    ping(1500);
    ping(2500);
    w.runFor(100);
    expect(from('1', '3').map((r) => r.msg.body.n)).toEqual([500, 2500]);
  });

  it('redraws random halves every period and heals at the end of the fault phase', () => {
    const { w } = world({}, 10);
    schedulePartitions(w, [parsePartition('random:1s')], 5000);
    const cuts: string[] = [];
    for (let t = 500; t < 5000; t += 1000) {
      w.runUntil(t);
      expect(w.network.partitioned).toBe(true);
      const side = nodeIds(10).filter((id) => !w.network.blocked('1', id));
      expect(side).toHaveLength(5); // node 1 reaches its own half only
      cuts.push(side.join(','));
    }
    expect(new Set(cuts).size).toBeGreaterThan(1);
    w.runUntil(5000);
    expect(w.network.partitioned).toBe(false);
  });

  it('isolates one random node at a time', () => {
    const { w } = world({}, 6);
    schedulePartitions(w, [parsePartition('isolate:1s')], 4000);
    const loners = new Set<string>();
    for (let t = 500; t < 4000; t += 1000) {
      w.runUntil(t);
      const ids = nodeIds(6);
      const cut = ids.filter((id) => ids.every((other) => other === id || (w.network.blocked(id, other) && w.network.blocked(other, id))));
      expect(cut).toHaveLength(1);
      expect(w.network.blocked(ids.find((id) => id !== cut[0])!, ids.findLast((id) => id !== cut[0])!)).toBe(false);
      loners.add(cut[0]!);
    }
    expect(loners.size).toBeGreaterThan(1);
  });

  it('rejects a spec naming a node that does not exist', () => {
    const { w } = world();
    expect(() => schedulePartitions(w, [parsePartition('1/7')], 1000)).toThrow(SimConfigError);
  });
});

describe('spec parsers', () => {
  it('parses partition specs', () => {
    expect(parsePartition('random:10s')).toMatchObject({ kind: 'random', periodMs: 10_000, startMs: 0 });
    expect(parsePartition('isolate:2s@1s-9s')).toMatchObject({ kind: 'isolate', periodMs: 2000, startMs: 1000, endMs: 9000 });
    expect(parsePartition('1,2/3,4@5s-15s')).toMatchObject({ kind: 'groups', groups: [['1', '2'], ['3', '4']], oneWay: false, startMs: 5000, endMs: 15_000 });
    expect(parsePartition('1-3>4@500ms')).toMatchObject({ kind: 'groups', groups: [['1', '2', '3'], ['4']], oneWay: true, startMs: 500 });
    for (const bad of ['', '1,2', '1/1', '1>2>3', '1/2@3s-1s', 'random:', '1/2@x', '1/$']) expect(() => parsePartition(bad), bad).toThrow(SimConfigError);
  });

  it('parses latency specs', () => {
    expect(parseLatency('100')).toEqual({ kind: 'constant', ms: 100 });
    expect(parseLatency('uniform:50-150')).toEqual({ kind: 'uniform', min: 50, max: 150 });
    expect(parseLatency('exp:100')).toEqual({ kind: 'exponential', mean: 100, floor: 0 });
    expect(parseLatency('exp:20+80')).toEqual({ kind: 'exponential', mean: 80, floor: 20 });
    for (const bad of ['uniform:9-1', 'exp:0', 'gauss:1', 'fast']) expect(() => parseLatency(bad), bad).toThrow(SimConfigError);
  });
});

describe('observability', () => {
  it('stamps every event with node, virtual time and a per-node sequence, including crashes', () => {
    const log = newLog();
    const events: StampedEvent[] = [];
    const w = new World({ seed: 1, nodes: nodeIds(2), protocols: [probe(log)], onEvent: (e) => events.push(e) });
    w.start();
    w.runUntil(40);
    log.envs.get('1')!.emit({ type: 'probe.hello', x: 1 });
    w.crash('1');
    w.runUntil(70);
    w.restart('1');
    expect(events).toEqual([
      { type: 'probe.hello', x: 1, node: '1', time: 40, seq: 1 },
      { type: 'sim.crashed', node: '1', time: 40, seq: 2 },
      { type: 'sim.restarted', node: '1', time: 70, seq: 3 },
    ]);
  });

  it('counts messages per body type and separates server and client traffic', () => {
    const { w, env } = world({ loss: 0 });
    env('1').send('2', { type: 'probe.ping' });
    env('2').send('3', { type: 'probe.other' });
    w.client('c1').request('3', { type: 'probe.ping' }, () => {});
    w.runFor(100);
    expect(w.stats.servers).toEqual({ sent: 2, delivered: 2, dropped: 0 });
    expect(w.stats.clients).toEqual({ sent: 2, delivered: 2, dropped: 0 }); // request and its reply
    expect(w.stats.byType.get('probe.ping')).toEqual({ sent: 2, delivered: 2, dropped: 0 });
    expect(w.stats.byType.get('probe.ping_ok')).toEqual({ sent: 1, delivered: 1, dropped: 0 });
    // probe.other is handled by nobody and carries no msg_id: delivered, unanswered
    expect(w.stats.byType.get('probe.other')).toEqual({ sent: 1, delivered: 1, dropped: 0 });
  });
});

describe('world configuration', () => {
  it('refuses impossible networks and seeds', () => {
    const make = (network: Partial<NetworkConfig>, seed = 1) => () => new World({ seed, nodes: ['1'], protocols: [], network });
    expect(make({ loss: 1.5 })).toThrow(SimConfigError);
    expect(make({ duplicate: -0.1 })).toThrow(SimConfigError);
    expect(make({ latency: { kind: 'constant', ms: -5 } })).toThrow(SimConfigError);
    expect(make({}, -1)).toThrow(SimConfigError);
    expect(make({}, 1.5)).toThrow(SimConfigError);
    expect(() => new World({ seed: 1, nodes: ['1', '1'], protocols: [] })).toThrow(/twice/);
    expect(make({ latency: undefined, loss: 0.5 })).not.toThrow();
  });
});
