/**
 * The broadcast workload harness, exercised with a deliberately naive flood
 * protocol defined here (the real one lives in src/protocols/broadcast.ts):
 * a node that first hears a value stores it, emits `broadcast.delivered` and
 * forwards it once to every peer — no acknowledgements, no retransmission.
 */
import { describe, expect, it } from 'vitest';
import { expectVerdicts } from './property-options.js';
import type { Envelope } from '../../src/protocols/envelope.js';
import type { Env, Protocol, ProtocolFactory } from '../../src/protocols/env.js';
import { parsePartition } from '../../src/sim/faults.js';
import { broadcastWorkloadScenario, runBroadcastWorkload } from '../../src/sim/scenarios/broadcast-workload.js';
import type { ScenarioResult } from '../../src/sim/scenarios/types.js';

const naiveFlood: ProtocolFactory = (env: Env): Protocol => {
  const values = new Set<number>();
  const hold = (value: number, from: string) => {
    if (values.has(value)) return;
    values.add(value);
    env.emit({ type: 'broadcast.delivered', value });
    for (const peer of env.peers()) if (peer !== from) env.send(peer, { type: 'flood.value', value });
  };
  return {
    name: 'flood',
    handles: ['broadcast.send', 'broadcast.read', 'flood.value'],
    receive(msg: Envelope) {
      const value = msg.body.value as number;
      if (msg.body.type === 'broadcast.send') {
        hold(value, env.id);
        env.reply(msg, { type: 'broadcast.send_ok' });
      } else if (msg.body.type === 'broadcast.read') {
        env.reply(msg, { type: 'broadcast.read_ok', values: [...values] });
      } else {
        hold(value, msg.src);
      }
    },
  };
};

const metric = (r: ScenarioResult, name: string) => r.metrics.find((m) => m.name === name)?.value;
const verdict = (r: ScenarioResult, name: string) => r.verdicts.find((v) => v.name === name);

describe('broadcast workload harness', () => {
  it('measures msgs-per-op and stable latency exactly on a fault-free network', () => {
    const r = runBroadcastWorkload(naiveFlood, { seed: 1, nodes: 5, rate: 20, durationMs: 2000 });
    const ops = metric(r, 'broadcast ops') as number;
    expect(ops).toBe(39); // one every 50 ms in (0, 2000)
    expect(metric(r, 'acknowledged')).toBe(ops);
    // The first node forwards to 4 peers, each of those to the 3 others: 4 + 4*3 = 16 messages per value.
    expect(metric(r, 'msgs-per-op')).toBe(16);
    // Constant 100 ms links: client -> node, then node -> peers: every value is everywhere 200 ms after it was sent.
    expect(metric(r, 'stable latency p50')).toBe(200);
    expect(metric(r, 'stable latency max')).toBe(200);
    expect(metric(r, 'values lost (node×value)')).toBe(0);
    expectVerdicts(r, true);
  });

  it('catches values lost by a protocol that does not retransmit across a partition', () => {
    const r = runBroadcastWorkload(naiveFlood, { seed: 2, nodes: 5, rate: 20, durationMs: 2000, partitions: [parsePartition('1,2/3-5')] });
    expect(metric(r, 'values lost (node×value)') as number).toBeGreaterThan(0);
    expect(verdict(r, 'no acknowledged value lost')?.ok).toBe(false);
    expect(verdict(r, 'stable after healing')?.ok).toBe(false);
    expect(verdict(r, 'no value invented')?.ok).toBe(true);
  });

  it('catches an invented value', () => {
    const inventive: ProtocolFactory = (env) => {
      const inner = naiveFlood(env);
      return {
        ...inner,
        receive(msg: Envelope) {
          if (msg.body.type === 'broadcast.read') env.reply(msg, { type: 'broadcast.read_ok', values: [-1] });
          else inner.receive(msg);
        },
      };
    };
    const r = runBroadcastWorkload(inventive, { seed: 3, nodes: 3, rate: 10, durationMs: 1000 });
    expect(verdict(r, 'no value invented')?.ok).toBe(false);
  });

  it('is a scenario like any other, deterministic by seed', () => {
    const scenario = broadcastWorkloadScenario(naiveFlood);
    expect(scenario.name).toBe('broadcast-workload');
    const opts = { seed: 4, nodes: 4, rate: 10, durationMs: 1000, network: { latency: { kind: 'uniform' as const, min: 10, max: 100 } } };
    expect(scenario.run(opts).traceHash).toBe(scenario.run(opts).traceHash);
    expect(scenario.run({ ...opts, seed: 5 }).traceHash).not.toBe(scenario.run(opts).traceHash);
  });
});
