/**
 * Scenario `registry` (src/protocols/registry.ts): the handout's central
 * registry (node 1) with members that register and heartbeat, and expiry of
 * silent nodes.
 *
 * Members crash — `--crash` if given (it may hit the registry, which then
 * restarts with an empty table), otherwise ⌊N/5⌋ (at least one) random
 * members a quarter of the way in, down until healing. Figures: how long
 * after its crash the registry declared each member dead, against the
 * window the configuration promises, and expiries of running members.
 *
 * Verdicts:
 * - every member the registry listed as alive when it crashed, and that
 *   stayed down long enough while the registry ran, was declared dead within expiryMs + sweepIntervalMs (+ one
 *   latency) of its crash;
 * - no running member expired unless its heartbeats could not get through
 *   (a partition between it and the registry, or — with `--loss` — lost
 *   heartbeats, which are counted);
 * - after healing, the registry lists every node alive within three
 *   heartbeat intervals plus a request timeout (room for a lost heartbeat
 *   and a lost registration).
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import { DEFAULT_REGISTRY_CONFIG, registry, type Registry, type RegistryConfig } from '../../protocols/registry.js';
import { DEFAULT_NETWORK } from '../network.js';
import { Rng } from '../rng.js';
import { nodeIds, type World } from '../world.js';
import { latencyCeiling, listSome, pollUntil, type FaultLog } from './observe.js';
import { latencyMetrics, messageMetrics, observedWorld, scenarioResult } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const REGISTRY_DEFAULTS = {
  nodes: 5,
  durationMs: 30_000,
  pollMs: 10,
};

export function runRegistry(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? REGISTRY_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? REGISTRY_DEFAULTS.durationMs;
  const ids = nodeIds(n);
  const hub = ids[0] as NodeId;
  const hi = latencyCeiling(options.network?.latency ?? DEFAULT_NETWORK.latency);
  const config: RegistryConfig = { ...DEFAULT_REGISTRY_CONFIG, registry: hub, requestTimeoutMs: Math.max(DEFAULT_REGISTRY_CONFIG.requestTimeoutMs, Math.ceil(4 * hi)) };
  const bound = config.expiryMs + config.sweepIntervalMs + Math.ceil(hi);

  let world: World | undefined;
  let faults: FaultLog | undefined;
  const deaths: Array<{ member: NodeId; at: number; running: boolean }> = [];
  const listed = new Set<NodeId>(); // alive in the registry's table now
  const listedAtCrash = new Set<string>(); // `${member}|${crashTime}` for members alive in the table when they crashed
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    faults?.onEvent(e);
    if (e.type === 'member.joined') listed.add(e.member as NodeId);
    if (e.type === 'member.dead') listed.delete(e.member as NodeId);
    if (e.type === 'sim.crashed' && e.node === hub) listed.clear();
    if (e.type === 'sim.crashed' && listed.has(e.node)) listedAtCrash.add(`${e.node}|${e.time}`);
    if (e.type === 'member.dead' && world) deaths.push({ member: e.member as NodeId, at: e.time, running: world.isUp(e.member as NodeId) });
  };
  ({ world, faults } = observedWorld(options, { nodes: ids, protocols: [registry(config)], faultEndMs: durationMs, onEvent }));
  const w = world;
  if (!options.crashes) {
    const rng = Rng.stream(options.seed, 'workload');
    const victims = rng.shuffle(ids.slice(1)).slice(0, Math.max(1, Math.floor(n / 5)));
    w.at(durationMs / 4, () => victims.forEach((v) => w.crash(v)));
    w.at(durationMs, () => victims.forEach((v) => w.restart(v)));
  }
  w.runUntil(durationMs);
  w.network.healAll();
  const healedAt = w.now;

  const table = () => {
    const s = w.protocol<Registry>(hub, 'registry')?.status();
    return s?.role === 'registry' ? s.nodes : [];
  };
  // A member finds out the registry forgot it at its next heartbeat and registers at once; one more
  // interval for a heartbeat lost at the heal, and one for a lost registration.
  const healBound = 3 * config.heartbeatIntervalMs + config.requestTimeoutMs;
  const allAlive = (): boolean => {
    const rows = table();
    return rows.length === n && rows.every((r) => r.status === 'alive');
  };
  const aliveAfter = pollUntil(w, healBound, REGISTRY_DEFAULTS.pollMs, allAlive);

  // Detection of each member crash the registry lived through.
  const detected: number[] = [];
  const late: string[] = [];
  let censored = 0;
  for (const id of ids.slice(1)) {
    for (const [down, up] of faults.crashes(id)) {
      const end = Math.min(up, healedAt);
      // Only members the registry listed as alive when they crashed, and only while it kept running.
      if (!listedAtCrash.has(`${id}|${down}`) || faults.downDuring(hub, down, Math.min(end, down + bound))) continue;
      const at = deaths.find((d) => d.member === id && d.at >= down && d.at <= end)?.at;
      if (at !== undefined) {
        detected.push(at - down);
        if (at - down > bound) late.push(`node ${id} crashed at ${down} ms, declared dead ${Math.round(at - down)} ms later`);
      } else if (end - down > bound) {
        late.push(`node ${id} crashed at ${down} ms, down ${end - down} ms, never declared dead`);
      } else censored++;
    }
  }

  const loss = w.network.config.loss;
  const falseDeaths = deaths.filter((d) => d.running);
  const cutOff = falseDeaths.filter((d) => faults.cutDuring(d.member, hub, d.at - config.expiryMs, d.at));
  const unexplained = falseDeaths.filter((d) => !faults.cutDuring(d.member, hub, d.at - config.expiryMs, d.at));

  const verdicts: Verdict[] = [
    {
      name: `every crashed member declared dead within ${bound} ms`,
      ok: late.length === 0,
      detail: late.length === 0 ? `${detected.length} crashes detected (${censored} restarted sooner)` : listSome(late),
    },
    {
      name: 'no running member expired while its heartbeats could get through',
      ok: unexplained.length === 0 || loss > 0,
      detail:
        unexplained.length === 0
          ? cutOff.length === 0
            ? 'no running member expired'
            : `${cutOff.length} running members expired, all while a partition cut them off from the registry`
          : loss > 0
            ? `${unexplained.length} running members expired after their heartbeats were lost at loss ${loss}; ${cutOff.length} cut off`
            : `running members expired without loss or partition: ${listSome(unexplained.map((d) => `${d.member} at ${Math.round(d.at)} ms`))}`,
    },
    {
      name: 'after healing, the registry lists every node alive',
      ok: aliveAfter !== null,
      detail: aliveAfter !== null ? `${aliveAfter} ms after healing at ${healedAt} ms` : `not within ${healBound} ms: ${table().map((r) => `${r.node_id}:${r.status}`).join(' ')}`,
    },
  ];
  return scenarioResult('registry', options, {
    nodes: n,
    world: w,
    wallStart,
    metrics: [
      { name: 'registry / heartbeat / expiry', value: `node ${hub} / ${config.heartbeatIntervalMs} ms / ${config.expiryMs} ms` },
      { name: 'expected detection window', value: `${config.expiryMs - config.heartbeatIntervalMs}–${bound} ms after the crash` },
      { name: 'crashes detected', value: detected.length },
      ...latencyMetrics('declared dead after', detected, ['p50', 'max']),
      { name: 'running members expired (cut off / not)', value: `${cutOff.length}/${unexplained.length}` },
      { name: 'all alive after healing', value: aliveAfter, unit: 'ms' },
      ...messageMetrics(w),
    ],
    verdicts,
  });
}

export const registryScenario: Scenario = {
  name: 'registry',
  summary: "the handout's registry: heartbeats, expiry of silent nodes (when, against the promised window), re-registration",
  defaultNodes: REGISTRY_DEFAULTS.nodes,
  defaultDurationMs: REGISTRY_DEFAULTS.durationMs,
  run: runRegistry,
};
