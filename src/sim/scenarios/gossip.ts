/**
 * Scenarios for the gossip protocol (src/protocols/gossip.ts).
 *
 * `gossip`: the handout's version map under faults. Clients bump random
 * nodes' versions while partitions, loss and crashes run; then everything
 * heals and every node must end up with the same map, holding every
 * acknowledged version and nothing that was never issued.
 *
 * `gossip-convergence`: Pittel's experiment. Pure push, fanout 1, lockstep
 * rounds: one node learns an update and we count the rounds until every node
 * has heard it, against the estimate log2 N + ln N.
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import { gossip, type Gossip, type GossipConfig, type VersionMap } from '../../protocols/gossip.js';
import { SimConfigError } from '../network.js';
import { Rng } from '../rng.js';
import { nodeIds } from '../world.js';
import { pollUntil } from './observe.js';
import { latencyMetrics, messageMetrics, perOp, scenarioResult, scenarioWorld } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

function gossipConfig(options: ScenarioOptions, defaults: Partial<GossipConfig>): Partial<GossipConfig> {
  const config: Partial<GossipConfig> = { ...defaults };
  if (options.fanout !== undefined) config.fanout = options.fanout;
  if (options.intervalMs !== undefined) config.intervalMs = options.intervalMs;
  if (options.mode !== undefined) {
    if (options.mode !== 'push' && options.mode !== 'push-pull') throw new SimConfigError(`gossip mode must be push or push-pull, got '${options.mode}'`);
    config.mode = options.mode;
  }
  return config;
}

/** Treats a missing entry as version 0, so maps can be compared by what happened. */
function sameVersions(a: VersionMap, b: VersionMap): boolean {
  for (const k of Object.keys(a)) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  for (const k of Object.keys(b)) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

export const GOSSIP_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  /** Client updates per second during the fault phase. */
  updateRate: 2,
  /** The liveness bound: after healing, the cluster must converge within this many gossip intervals. */
  healRounds: 20,
  gossip: { intervalMs: 500, fanout: 2, mode: 'push-pull' } satisfies Partial<GossipConfig>,
};

export function runGossip(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? GOSSIP_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? GOSSIP_DEFAULTS.durationMs;
  const config = gossipConfig(options, GOSSIP_DEFAULTS.gossip);
  const intervalMs = config.intervalMs ?? GOSSIP_DEFAULTS.gossip.intervalMs;
  const ids = nodeIds(n);

  // What the run observed, from the event stream.
  const maxEver = new Map<string, number>(); // `${node}|${origin}` -> highest version the node ever held
  const reach = new Map<NodeId, number[]>(); // origin -> reach[v] = nodes that have held version >= v
  const stableAt = new Map<string, number>(); // `${origin}|${v}` -> when the last node learned it
  const issued = new Map<NodeId, number>(); // origin -> highest version it made durable itself
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    if (e.type !== 'gossip.learned') return;
    const origin = e.origin as NodeId;
    const version = e.version as number;
    if (origin === e.node) issued.set(origin, Math.max(issued.get(origin) ?? 0, version));
    const key = `${e.node}|${origin}`;
    const before = maxEver.get(key) ?? 0;
    if (version <= before) return;
    maxEver.set(key, version);
    let counts = reach.get(origin);
    if (!counts) reach.set(origin, (counts = []));
    for (let v = before + 1; v <= version; v++) {
      counts[v] = (counts[v] ?? 0) + 1;
      if (counts[v] === n) stableAt.set(`${origin}|${v}`, e.time);
    }
  };

  const world = scenarioWorld(options, { nodes: ids, protocols: [gossip(config)], faultEndMs: durationMs, onEvent });

  // The workload: clients bump random nodes' versions at a steady rate.
  const rng = Rng.stream(options.seed, 'workload');
  const acked: Array<{ origin: NodeId; version: number; invokedAt: number }> = [];
  let updates = 0;
  const gap = 1000 / (options.rate ?? GOSSIP_DEFAULTS.updateRate);
  for (let t = gap; t < durationMs; t += gap) {
    world.at(t, () => {
      updates++;
      const origin = ids[rng.int(n)] as NodeId;
      const invokedAt = world.now;
      world.client(`c${1 + rng.int(3)}`).request(origin, { type: 'gossip.update' }, (reply) => {
        if (reply.type === 'gossip.update_ok') acked.push({ origin, version: reply.version as number, invokedAt });
      });
    });
  }

  world.runUntil(durationMs);
  world.network.healAll();

  // Liveness phase: poll until every running node holds the same map, within the bound.
  const healBoundMs = GOSSIP_DEFAULTS.healRounds * intervalMs;
  const mapsNow = (): VersionMap[] => world.liveNodes().map((id) => world.protocol<Gossip>(id, 'gossip')?.status().states ?? {});
  const converged = (): boolean => {
    const maps = mapsNow();
    return maps.every((m) => sameVersions(m, maps[0] as VersionMap));
  };
  const convergedAfter = pollUntil(world, healBoundMs, Math.max(1, intervalMs / 10), converged);

  const finalMaps = mapsNow();
  const verdicts: Verdict[] = [];
  verdicts.push({
    name: 'converged after healing',
    ok: convergedAfter !== null,
    detail: convergedAfter !== null ? `all ${finalMaps.length} running nodes agree ${convergedAfter} ms after healing` : `not within ${healBoundMs} ms (${GOSSIP_DEFAULTS.healRounds} intervals) after healing`,
  });
  const lost = acked.filter((a) => finalMaps.some((m) => (m[a.origin] ?? 0) < a.version));
  verdicts.push({
    name: 'no acknowledged update lost',
    ok: lost.length === 0,
    detail: lost.length === 0 ? `${acked.length} acknowledged updates all held` : `${lost.length} missing, e.g. node ${lost[0]?.origin} version ${lost[0]?.version}`,
  });
  const seen = new Set<string>();
  const reused = acked.filter((a) => {
    const key = `${a.origin}@${a.version}`;
    if (seen.has(key)) return true;
    seen.add(key);
    return false;
  });
  verdicts.push({
    name: 'no version acknowledged twice',
    ok: reused.length === 0,
    detail: reused.length === 0 ? 'every acknowledged version is new' : `reused after a restart: ${reused.slice(0, 3).map((a) => `node ${a.origin} version ${a.version}`).join(', ')}`,
  });
  const invented: string[] = [];
  for (const m of finalMaps) for (const [origin, v] of Object.entries(m)) if (v > (issued.get(origin) ?? 0)) invented.push(`${origin}@${v}`);
  verdicts.push({ name: 'no version invented', ok: invented.length === 0, detail: invented.length === 0 ? 'every version held was issued by its node' : `never issued: ${invented.slice(0, 3).join(', ')}` });

  const latencies = acked.flatMap((a) => {
    const at = stableAt.get(`${a.origin}|${a.version}`);
    return at === undefined ? [] : [at - a.invokedAt];
  });
  return scenarioResult('gossip', options, {
    nodes: n,
    world,
    wallStart,
    metrics: [
      { name: 'updates', value: updates },
      { name: 'acknowledged', value: acked.length },
      ...messageMetrics(world, perOp(updates)),
      ...latencyMetrics('spread latency', latencies),
      { name: 'updates that reached every node', value: `${latencies.length}/${acked.length}` },
      { name: 'convergence after healing', value: convergedAfter, unit: 'ms' },
    ],
    verdicts,
  });
}

export const CONVERGENCE_DEFAULTS = {
  nodes: 10_000,
  intervalMs: 100,
  /** Give up after this many rounds. */
  maxRounds: 200,
  /** The figure to reach: rounds within this factor of log2 N + ln N. */
  targetRatio: 1.25,
};

/** Pittel's estimate of the rounds push gossip with fanout 1 needs to reach N nodes. */
export function pittelEstimate(n: number): number {
  return Math.log2(n) + Math.log(n);
}

export function runGossipConvergence(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? CONVERGENCE_DEFAULTS.nodes;
  if (n < 2) throw new SimConfigError('gossip-convergence needs at least 2 nodes');
  const intervalMs = options.intervalMs ?? CONVERGENCE_DEFAULTS.intervalMs;
  const config = gossipConfig(options, { mode: 'push', fanout: 1, intervalMs, jitter: 0 });
  const heard = new Set<string>();
  let informed = 0;
  let originKnewAt: number | null = null;
  let lastAt = 0;
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    if (e.type === 'gossip.learned' && e.origin === '1' && e.version === 1 && !heard.has(e.node)) {
      heard.add(e.node); // a restarted node learns again; count each node once
      informed++;
      lastAt = e.time;
      if (e.node === '1') originKnewAt = e.time;
    }
  };
  // Latency well under one interval, so a round is a round.
  const network = { latency: { kind: 'constant' as const, ms: 1 }, ...options.network };
  const boundMs = CONVERGENCE_DEFAULTS.maxRounds * intervalMs;
  const world = scenarioWorld(options, { nodes: nodeIds(n), protocols: [gossip(config)], faultEndMs: options.durationMs ?? boundMs, network, onEvent });
  world.client('c1').request('1', { type: 'gossip.update' }, () => {});
  const allKnow = world.runUntil(boundMs, () => informed >= n);
  const wallMs = performance.now() - wallStart;

  const estimate = pittelEstimate(n);
  const rounds = allKnow && originKnewAt !== null ? Math.ceil((lastAt - originKnewAt) / intervalMs) : null;
  const ratio = rounds === null ? null : rounds / estimate;
  const s = world.stats;
  return scenarioResult('gossip-convergence', options, {
    nodes: n,
    world,
    wallStart,
    metrics: [
      { name: 'mode / fanout', value: `${config.mode} / ${config.fanout}` },
      { name: 'rounds until all nodes know', value: rounds },
      { name: 'estimate log2 N + ln N', value: estimate },
      { name: 'ratio rounds / estimate', value: ratio },
      { name: 'nodes informed', value: `${informed}/${n}` },
      { name: 'convergence time', value: allKnow && originKnewAt !== null ? lastAt - originKnewAt : null, unit: 'ms' },
      { name: 'messages (server-to-server)', value: s.servers.sent },
      { name: 'messages delivered', value: s.delivered },
      { name: 'wall time', value: wallMs, unit: 'ms' },
      { name: 'messages delivered per wall second', value: wallMs > 0 ? (s.delivered / wallMs) * 1000 : null },
    ],
    verdicts: [
      { name: 'every node informed', ok: allKnow, detail: allKnow ? `all ${n} nodes` : `${informed}/${n} after ${CONVERGENCE_DEFAULTS.maxRounds} rounds` },
      {
        name: `rounds within ${CONVERGENCE_DEFAULTS.targetRatio}x the estimate`,
        ok: ratio !== null && ratio <= CONVERGENCE_DEFAULTS.targetRatio,
        detail: ratio === null ? 'did not converge' : `${rounds} rounds vs ${estimate.toFixed(2)} (ratio ${ratio.toFixed(3)})`,
      },
    ],
  });
}

export const gossipScenario: Scenario = {
  name: 'gossip',
  summary: 'version-map gossip (push-pull) under faults, then healing: converge, lose no acknowledged update',
  defaultNodes: GOSSIP_DEFAULTS.nodes,
  defaultDurationMs: GOSSIP_DEFAULTS.durationMs,
  run: runGossip,
};

export const gossipConvergenceScenario: Scenario = {
  name: 'gossip-convergence',
  summary: "Pittel's experiment: push gossip, fanout 1, rounds until all N nodes know one update vs log2 N + ln N",
  defaultNodes: CONVERGENCE_DEFAULTS.nodes,
  defaultDurationMs: CONVERGENCE_DEFAULTS.maxRounds * CONVERGENCE_DEFAULTS.intervalMs,
  run: runGossipConvergence,
};
