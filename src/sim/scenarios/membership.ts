/**
 * Scenario `membership` (src/protocols/swim.ts): the SWIM failure detector.
 *
 * Nodes crash — `--crash` if given, otherwise ⌊N/5⌋ (at least one) random
 * nodes a quarter of the way in, down until healing — while `--loss`,
 * `--partition` and `--dup` run. Figures: for each crash, how long until
 * every member that stayed up had declared the crashed node dead (p50/max
 * over crashes), and how long until the first did; false deaths (a running
 * node declared dead at its current incarnation). `--join`: every node knows
 * only node 1 and joins through it, so the roster is learned, not given.
 *
 * Verdicts:
 * - every crash that lasted at least the bound was declared dead by every
 *   member that stayed up, within the bound (below);
 * - no running node was declared dead, except while (or just after) a
 *   partition cut it off — being unreachable is what "dead" means to a
 *   failure detector;
 * - after healing, every node sees every node alive within the bound plus
 *   two sync intervals (sides that declared each other dead meet again only
 *   through the periodic sync, and one sync may be lost).
 *
 * The default SWIM timings assume loopback round trips. When the one-way
 * latency ceiling is over a quarter of the default probe timeout, the
 * scenario switches to the LAN profile (scaled up further if even that is
 * too quick for the latency) and says so.
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import { DEFAULT_SWIM_CONFIG, LAN_SWIM_CONFIG, swim, type Swim, type SwimConfig } from '../../protocols/swim.js';
import { DEFAULT_NETWORK, type LatencyDist } from '../network.js';
import { Rng } from '../rng.js';
import { nodeIds, type World } from '../world.js';
import { latencyCeiling, listSome, pollUntil, type FaultLog } from './observe.js';
import { latencyMetrics, messageMetrics, observedWorld, perNodePerSecond, scenarioResult } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const MEMBERSHIP_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  pollMs: 10,
};

/** The SWIM profile for this latency, and its name for the output. */
export function swimProfileFor(latency: LatencyDist): { config: SwimConfig; profile: string } {
  const hi = latencyCeiling(latency);
  if (4 * hi <= DEFAULT_SWIM_CONFIG.probeTimeoutMs) return { config: DEFAULT_SWIM_CONFIG, profile: 'loopback (DEFAULT_SWIM_CONFIG)' };
  const factor = (4 * hi) / LAN_SWIM_CONFIG.probeTimeoutMs;
  if (factor <= 1) return { config: LAN_SWIM_CONFIG, profile: 'LAN (LAN_SWIM_CONFIG) for the latency' };
  const scale = (ms: number): number => Math.ceil(ms * factor);
  const c = LAN_SWIM_CONFIG;
  return {
    config: { ...c, probeIntervalMs: scale(c.probeIntervalMs), probeTimeoutMs: scale(c.probeTimeoutMs), indirectTimeoutMs: scale(c.indirectTimeoutMs), syncIntervalMs: scale(c.syncIntervalMs) },
    profile: `LAN ×${factor.toFixed(2)} for the latency`,
  };
}

/**
 * The detection bound: every live member probes the dead node within one
 * pass of its list (N periods, plus two for the shuffle), then the direct and
 * indirect timeouts, the longest suspicion timeout (no confirmation heard),
 * and two periods for the verdict to spread.
 */
export function detectionBoundMs(c: SwimConfig, n: number): number {
  const minSuspicion = c.suspicionMult * Math.max(1, Math.log10(n)) * c.probeIntervalMs;
  return (n + 2) * c.probeIntervalMs + c.probeTimeoutMs + c.indirectTimeoutMs + c.suspicionMaxMult * minSuspicion + 2 * c.probeIntervalMs;
}

export function runMembership(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? MEMBERSHIP_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? MEMBERSHIP_DEFAULTS.durationMs;
  const ids = nodeIds(n);
  const { config: base, profile } = swimProfileFor(options.network?.latency ?? DEFAULT_NETWORK.latency);
  const config: SwimConfig = options.join ? { ...base, seeds: ['1'] } : base;
  const bound = detectionBoundMs(config, n);
  const minSuspicion = config.suspicionMult * Math.max(1, Math.log10(n)) * config.probeIntervalMs;

  let world: World | undefined;
  let faults: FaultLog | undefined;
  const deadAt = new Map<string, number[]>(); // `${observer}|${member}` -> times it declared member dead
  const falseDeaths: Array<{ by: NodeId; member: NodeId; at: number }> = [];
  const view = new Map<string, string>(); // `${observer}|${member}` -> the observer's latest verdict
  const watching = new Map<string, Set<NodeId>>(); // `${member}|${crashTime}` -> observers that held it alive or suspect then
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    faults?.onEvent(e);
    if (e.type === 'member.alive' || e.type === 'member.suspected' || e.type === 'member.dead') view.set(`${e.node}|${e.member as string}`, e.type);
    if (e.type === 'sim.crashed') {
      // Roster members start out alive without an event; joiners learn each member with one.
      const holdsAlive = (o: NodeId): boolean => {
        const v = view.get(`${o}|${e.node}`);
        return v === undefined ? !options.join : v !== 'member.dead';
      };
      watching.set(`${e.node}|${e.time}`, new Set(ids.filter((o) => o !== e.node && holdsAlive(o))));
    }
    if (e.type !== 'member.dead' || !world) return;
    const member = e.member as NodeId;
    const key = `${e.node}|${member}`;
    let list = deadAt.get(key);
    if (!list) deadAt.set(key, (list = []));
    list.push(e.time);
    // False if the member runs now at the incarnation that was declared dead.
    const current = world.protocol<Swim>(member, 'swim')?.status().incarnation;
    if (world.isUp(member) && current !== undefined && (e.incarnation as number) >= current) falseDeaths.push({ by: e.node, member, at: e.time });
  };
  ({ world, faults } = observedWorld(options, { nodes: ids, protocols: [swim(config)], faultEndMs: durationMs, onEvent }));
  const w = world;
  if (!options.crashes) {
    const rng = Rng.stream(options.seed, 'workload');
    const candidates = rng.shuffle(options.join ? ids.slice(1) : [...ids]);
    const victims = candidates.slice(0, Math.max(1, Math.floor(n / 5)));
    w.at(durationMs / 4, () => victims.forEach((v) => w.crash(v)));
    w.at(durationMs, () => victims.forEach((v) => w.restart(v)));
  }
  w.runUntil(durationMs);
  w.network.healAll();
  const healedAt = w.now;

  // Liveness after healing: everyone sees everyone alive.
  const allAlive = (): boolean =>
    w.liveNodes().length === n &&
    w.liveNodes().every((id) => {
      const members = w.protocol<Swim>(id, 'swim')?.status().members ?? [];
      return members.length === n && members.every((m) => m.state === 'alive');
    });
  // Two nodes that declared each other dead during a partition no longer probe each other: only the
  // periodic sync (one random member, dead ones included) reunites them, and one sync may be lost.
  const healBound = bound + 2 * config.syncIntervalMs;
  const aliveAfter = pollUntil(w, healBound, MEMBERSHIP_DEFAULTS.pollMs, allAlive);

  // Detection per crash: observers are the nodes up from the crash until it was detected (or the node came back).
  const allDetected: number[] = [];
  const firstDetected: number[] = [];
  const late: string[] = [];
  let measured = 0;
  let censored = 0;
  for (const id of ids) {
    for (const [down, up] of faults.crashes(id)) {
      const end = Math.min(up, healedAt);
      // Observers: members that held it alive (or suspect) when it crashed — not those that had declared it
      // dead already during a partition, nor joiners that had not heard of it — and stayed up.
      const held = watching.get(`${id}|${down}`) ?? new Set<NodeId>();
      const observers = ids.filter((o) => held.has(o) && !faults.downDuring(o, down, Math.min(end, down + bound)));
      const times = observers.map((o) => (deadAt.get(`${o}|${id}`) ?? []).find((t) => t >= down && t <= end));
      if (times.every((t) => t !== undefined)) {
        const ts = times as number[];
        if (ts.length === 0) continue;
        measured++;
        allDetected.push(Math.max(...ts) - down);
        firstDetected.push(Math.min(...ts) - down);
        if (Math.max(...ts) - down > bound) late.push(`node ${id} crashed at ${down} ms: all declared it dead after ${Math.round(Math.max(...ts) - down)} ms`);
      } else if (end - down >= bound) {
        late.push(`node ${id} crashed at ${down} ms, down ${end - down} ms: ${times.filter((t) => t === undefined).length} of ${observers.length} members never declared it dead`);
      } else {
        censored++;
      }
    }
  }

  // False deaths not explained by a partition during the suspicion that led to them.
  const window = bound;
  const cutOff = falseDeaths.filter((f) => faults.partitionedDuring(f.at - window, f.at));
  const unexplained = falseDeaths.filter((f) => !faults.partitionedDuring(f.at - window, f.at));
  const loss = w.network.config.loss;

  const verdicts: Verdict[] = [
    {
      name: `every crash declared dead by every live member within ${bound} ms`,
      ok: late.length === 0,
      detail: late.length === 0 ? `${measured} crashes detected by all (${censored} restarted before all had declared them dead)` : listSome(late),
    },
    {
      name: 'no running node declared dead (outside partitions)',
      ok: unexplained.length === 0,
      detail:
        unexplained.length === 0
          ? `0 false deaths at loss ${loss}${cutOff.length > 0 ? `; ${cutOff.length} declarations of nodes cut off by a partition` : ''}`
          : listSome(unexplained.map((f) => `${f.by} declared running ${f.member} dead at ${Math.round(f.at)} ms`)),
    },
    {
      name: 'after healing, every node sees every node alive',
      ok: aliveAfter !== null,
      detail: aliveAfter !== null ? `${aliveAfter} ms after healing at ${healedAt} ms` : `not within ${healBound} ms`,
    },
  ];
  return scenarioResult('membership', options, {
    nodes: n,
    world: w,
    wallStart,
    metrics: [
      { name: 'SWIM profile', value: `${profile}: period ${config.probeIntervalMs} ms, probe timeout ${config.probeTimeoutMs} ms` },
      { name: 'roster', value: options.join ? 'join through node 1 (seeds: [1])' : 'given (seeds: all peers)' },
      { name: 'suspicion timeout', value: `${minSuspicion}–${config.suspicionMaxMult * minSuspicion} ms` },
      { name: 'crashes measured', value: measured },
      ...latencyMetrics('dead at all live members', allDetected, ['p50', 'max']),
      ...latencyMetrics('dead at the first member', firstDetected, ['p50']),
      { name: 'bound', value: bound, unit: 'ms' },
      { name: 'false deaths (cut off / not)', value: `${cutOff.length}/${unexplained.length}` },
      { name: 'all alive after healing', value: aliveAfter, unit: 'ms' },
      ...messageMetrics(w, perNodePerSecond(n, w.now)),
    ],
    verdicts,
  });
}

export const membershipScenario: Scenario = {
  name: 'membership',
  summary: 'SWIM failure detector: crash nodes, time until every member declares them dead; false deaths under loss; --join',
  defaultNodes: MEMBERSHIP_DEFAULTS.nodes,
  defaultDurationMs: MEMBERSHIP_DEFAULTS.durationMs,
  run: runMembership,
};
