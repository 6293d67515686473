/**
 * The Maelstrom-style broadcast workload, for any protocol that honours the
 * broadcast contract:
 *
 *   client → node  {type: 'broadcast.send', value}  → {type: 'broadcast.send_ok'}
 *   client → node  {type: 'broadcast.read'}         → {type: 'broadcast.read_ok', values: [...]}
 *   every node emits {type: 'broadcast.delivered', value} the first time it holds a value
 *
 * Clients send `rate` fresh values per second to random nodes for the
 * workload phase while the faults run; then the network heals, crashed nodes
 * come back, and the run continues until every acknowledged value is on every
 * node (or the healing bound passes). Finally a client reads every node.
 *
 * Figures, as Gossip Glomers' efficiency challenge counts them:
 * - msgs-per-op: server-to-server messages sent / broadcast operations;
 * - stable latency: from a value's `broadcast.send` until the last node holds it;
 * - values lost: acknowledged values missing from some node's final read.
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { ProtocolFactory, StampedEvent } from '../../protocols/env.js';
import { Rng } from '../rng.js';
import { nodeIds } from '../world.js';
import { pollUntil } from './observe.js';
import { latencyMetrics, messageMetrics, perOp, scenarioResult, scenarioWorld } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult } from './types.js';

export const BROADCAST_WORKLOAD_DEFAULTS = {
  nodes: 25,
  /** One-way latency between any two nodes, ms. */
  latencyMs: 100,
  /** Broadcasts per second. */
  rate: 100,
  durationMs: 20_000,
  /** Distinct client ids the operations are spread over. */
  clients: 5,
  requestTimeoutMs: 1000,
  /** After healing, every acknowledged value must be everywhere within this. */
  healBoundMs: 60_000,
  /** How long the final reads may take. */
  readBoundMs: 10_000,
};

export function runBroadcastWorkload(protocol: ProtocolFactory, options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const d = BROADCAST_WORKLOAD_DEFAULTS;
  const n = options.nodes ?? d.nodes;
  const durationMs = options.durationMs ?? d.durationMs;
  const ids = nodeIds(n);

  const invokedAt = new Map<number, number>();
  const holders = new Set<string>(); // `${node}|${value}`, first delivery per node
  const holderCount = new Map<number, number>();
  const stableAt = new Map<number, number>();
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    if (e.type !== 'broadcast.delivered') return;
    const value = e.value as number;
    const key = `${e.node}|${value}`;
    if (holders.has(key)) return;
    holders.add(key);
    const count = (holderCount.get(value) ?? 0) + 1;
    holderCount.set(value, count);
    if (count === n) stableAt.set(value, e.time);
  };

  const network = { latency: { kind: 'constant' as const, ms: d.latencyMs }, ...options.network };
  const world = scenarioWorld(options, { nodes: ids, protocols: [protocol], faultEndMs: durationMs, network, onEvent });

  const rng = Rng.stream(options.seed, 'workload');
  const acked = new Set<number>();
  let outstanding = 0;
  let nextValue = 1;
  const gap = 1000 / (options.rate ?? d.rate);
  for (let t = gap; t < durationMs; t += gap) {
    world.at(t, () => {
      const value = nextValue++;
      invokedAt.set(value, world.now);
      outstanding++;
      const client = world.client(`c${1 + rng.int(d.clients)}`);
      client.request(ids[rng.int(n)] as NodeId, { type: 'broadcast.send', value }, (reply) => {
        outstanding--;
        if (reply.type === 'broadcast.send_ok') acked.add(value);
      }, d.requestTimeoutMs);
    });
  }

  world.runUntil(durationMs);
  world.network.healAll();
  const allStable = (): boolean => {
    if (outstanding > 0) return false;
    for (const v of acked) if (!stableAt.has(v)) return false;
    return true;
  };
  const stableAfter = pollUntil(world, d.healBoundMs, 100, allStable);

  // Final reads, one per node.
  const reads = new Map<NodeId, number[]>();
  const reader = world.client('reader');
  for (const id of ids) {
    reader.request(id, { type: 'broadcast.read' }, (reply) => {
      if (reply.type === 'broadcast.read_ok' && Array.isArray(reply.values)) reads.set(id, reply.values as number[]);
    }, d.readBoundMs);
  }
  world.runFor(d.readBoundMs, () => reads.size === n);

  const sent = new Set(invokedAt.keys());
  let lost = 0;
  const invented = new Set<unknown>();
  for (const id of ids) {
    const held = new Set(reads.get(id) ?? []);
    for (const v of acked) if (!held.has(v)) lost++;
    for (const v of held) if (!sent.has(v as number)) invented.add(v);
  }
  const latencies = [...invokedAt].flatMap(([v, at]) => {
    const s = stableAt.get(v);
    return s === undefined ? [] : [s - at];
  });
  const ops = invokedAt.size;
  return scenarioResult('broadcast-workload', options, {
    nodes: n,
    world,
    wallStart,
    metrics: [
      { name: 'broadcast ops', value: ops },
      { name: 'acknowledged', value: acked.size },
      ...messageMetrics(world, perOp(ops)),
      ...latencyMetrics('stable latency', latencies),
      { name: 'values on every node', value: `${stableAt.size}/${ops}` },
      { name: 'values lost (node×value)', value: lost },
      { name: 'stable after healing', value: stableAfter, unit: 'ms' },
    ],
    verdicts: [
      { name: 'every node answered the final read', ok: reads.size === n, detail: `${reads.size}/${n} nodes` },
      { name: 'no acknowledged value lost', ok: reads.size === n && lost === 0, detail: lost === 0 ? `${acked.size} acknowledged values on all ${reads.size} nodes read` : `${lost} (node, value) pairs missing` },
      { name: 'no value invented', ok: invented.size === 0, detail: invented.size === 0 ? 'every value read was sent by a client' : `never sent: ${[...invented].slice(0, 3).join(', ')}` },
      {
        name: 'stable after healing',
        ok: stableAfter !== null,
        detail: stableAfter !== null ? `every acknowledged value on every node ${stableAfter} ms after healing` : `not within ${d.healBoundMs} ms`,
      },
    ],
  });
}

/** The broadcast workload as a `distlab sim` scenario over the given protocol. */
export function broadcastWorkloadScenario(protocol: ProtocolFactory): Scenario {
  return {
    name: 'broadcast-workload',
    summary: 'Maelstrom-style broadcast workload: 25 nodes, 100 ms latency, 100 values/s for 20 s, then healing',
    defaultNodes: BROADCAST_WORKLOAD_DEFAULTS.nodes,
    defaultDurationMs: BROADCAST_WORKLOAD_DEFAULTS.durationMs,
    run: (options) => runBroadcastWorkload(protocol, options),
  };
}
