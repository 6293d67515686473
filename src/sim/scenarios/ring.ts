/**
 * Scenario `ring` (src/protocols/ring.ts): clients start rounds at random
 * running nodes while nodes crash, partitions come and go and messages are
 * lost; every round reports its path, the nodes it skipped and its round
 * trip. The same harness drives the structured broadcast
 * (broadcast-structured.ts), which is the ring under another name.
 *
 * Verdicts:
 * - every node on a completed round's path logged that round, no node logged
 *   a round twice in one life, and path + skipped = the whole roster (the
 *   ring closed over everyone). The log is kept in memory, so a node that
 *   crashed and restarted while a round was under way may log it again — the
 *   origin does when the token comes home to it — and the figure `rounds
 *   logged again by a restarted node` counts those;
 * - every skipped node was really down, or cut off by a partition, during the
 *   hop that gave up on it — with `--loss` a running node can also be skipped
 *   because every attempt was lost, and those skips are counted, not failed;
 * - after healing, a round from every node comes back within the round
 *   timeout having visited every node (with `--loss`, a node whose every
 *   attempt was lost may still be skipped; such skips are shown).
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { ProtocolFactory, StampedEvent } from '../../protocols/env.js';
import { DEFAULT_RING_CONFIG, ring, RING_NAMES, type RingConfig, type RingNames } from '../../protocols/ring.js';
import { DEFAULT_NETWORK, type LatencyDist } from '../network.js';
import { Rng } from '../rng.js';
import { maxOf } from '../stats.js';
import { nodeIds } from '../world.js';
import { latencyCeiling, listSome, type FaultLog } from './observe.js';
import { latencyMetrics, messageMetrics, observedWorld, perOp, scenarioResult } from './result.js';
import type { Metric, Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const RING_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  /** Rounds started per second during the fault phase. */
  rate: 1,
};

/** The ring's hop timeout: the default, or 4 one-way latencies when the network is slower than that allows. */
export function ringConfigFor(latency: LatencyDist): Partial<RingConfig> {
  return { hopTimeoutMs: Math.max(DEFAULT_RING_CONFIG.hopTimeoutMs, Math.ceil(4 * latencyCeiling(latency))) };
}

interface Round {
  round: string;
  text: string;
  origin: NodeId;
  startedAt: number;
  completedAt?: number;
  path?: NodeId[];
  skipped?: NodeId[];
  rtt?: number;
}

export function runRingRounds(scenario: string, names: RingNames, makeFactory: (config: Partial<RingConfig>) => ProtocolFactory, options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? RING_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? RING_DEFAULTS.durationMs;
  const ids = nodeIds(n);
  const p = names.protocol;

  const seen = new Map<string, number>(); // `${node}|${incarnation}|${round}` -> times logged
  const loggedBy = new Map<string, number>(); // `${node}|${round}` -> times logged, all lives together
  const incarnation = new Map<NodeId, number>(); // restarts so far
  const rounds = new Map<string, Round>();
  const skips: Array<{ by: NodeId; skipped: NodeId; at: number }> = [];
  let faults: FaultLog | undefined;
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    faults?.onEvent(e);
    if (e.type === 'sim.restarted') incarnation.set(e.node, (incarnation.get(e.node) ?? 0) + 1);
    else if (e.type === names.seenEvent) {
      const key = `${e.node}|${incarnation.get(e.node) ?? 0}|${e.round as string}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      loggedBy.set(`${e.node}|${e.round as string}`, (loggedBy.get(`${e.node}|${e.round as string}`) ?? 0) + 1);
      if (e.hop === 0) rounds.set(e.round as string, { round: e.round as string, text: e.token as string, origin: e.node, startedAt: e.time });
    } else if (e.type === `${p}.completed`) {
      const r = rounds.get(e.round as string);
      if (r) Object.assign(r, { completedAt: e.time, path: e.path as NodeId[], skipped: e.skipped as NodeId[], rtt: e.rtt_ms as number | undefined });
    } else if (e.type === `${p}.skipped`) {
      skips.push({ by: e.node, skipped: e.skipped as NodeId, at: e.time });
    }
  };

  const config = ringConfigFor(options.network?.latency ?? DEFAULT_NETWORK.latency);
  const observed = observedWorld(options, { nodes: ids, protocols: [makeFactory(config)], faultEndMs: durationMs, onEvent });
  const world = observed.world;
  faults = observed.faults;
  const full = { ...DEFAULT_RING_CONFIG, ...config };
  const roundTimeout = full.roundTimeoutMs > 0 ? full.roundTimeoutMs : (n + 1) * full.hopAttempts * full.hopTimeoutMs;
  const hopWindow = full.hopAttempts * full.hopTimeoutMs + 2 * latencyCeiling(world.network.config.latency);

  const rng = Rng.stream(options.seed, 'workload');
  let started = 0;
  let timedOut = 0;
  const gap = 1000 / (options.rate ?? RING_DEFAULTS.rate);
  const text = names.textField;
  const start = (origin: NodeId, label: string, onDone?: () => void): void => {
    started++;
    world.client(`c${1 + rng.int(3)}`).request(origin, { type: `${p}.start`, [text]: label }, (reply) => {
      if (reply.type !== `${p}.start_ok`) timedOut++;
      onDone?.();
    }, roundTimeout + 1000);
  };
  for (let t = gap, i = 1; t < durationMs; t += gap, i++) {
    world.at(t, () => {
      const live = world.liveNodes();
      if (live.length > 0) start(live[rng.int(live.length)] as NodeId, `${names.defaultText}-${i}`);
    });
  }
  world.runUntil(durationMs);
  world.network.healAll();
  const healedAt = world.now;

  // Liveness: after healing, a round from every node, one after another, must visit everyone.
  const finals: Round[] = [];
  for (const origin of ids) {
    const label = `after-healing-from-${origin}`;
    let answered = false;
    start(origin, label, () => (answered = true));
    world.runFor(roundTimeout + 1000, () => answered);
    const r = [...rounds.values()].find((x) => x.text === label);
    if (r) finals.push(r);
  }
  const finalsBack = finals.filter((r) => r.completedAt !== undefined && r.completedAt - r.startedAt <= roundTimeout);
  const finalSkips = finalsBack.reduce((sum, r) => sum + (r.skipped?.length ?? 0), 0);

  // Verdict 1: logged exactly once along every completed path; the ring closed over the whole roster.
  const completed = [...rounds.values()].filter((r) => r.completedAt !== undefined);
  const badLogs: string[] = [];
  for (const r of completed) {
    const onPath = (r.path ?? []).slice(0, -1);
    for (const node of onPath) {
      if ((loggedBy.get(`${node}|${r.round}`) ?? 0) === 0) badLogs.push(`round ${r.round}: node ${node} is on its path but never logged it`);
    }
    const covered = new Set([...onPath, ...(r.skipped ?? [])]);
    if (onPath.length !== new Set(onPath).size) badLogs.push(`round ${r.round}: a node appears twice on path ${r.path?.join('→')}`);
    if (covered.size !== n) badLogs.push(`round ${r.round}: path + skipped cover ${covered.size} of ${n} nodes`);
  }

  for (const [key, count] of seen) if (count > 1) badLogs.push(`node ${key.split('|')[0]} logged round ${key.split('|')[2]} ${count} times in one life`);
  const relogged = [...loggedBy.values()].filter((c) => c > 1).length;

  // Verdict 2: skips explained by a crash or a partition during the hop (or, with loss, by loss).
  const loss = world.network.config.loss;
  let skipsDown = 0;
  let skipsCut = 0;
  const skipsRunning: string[] = [];
  for (const s of skips) {
    if (faults.downDuring(s.skipped, s.at - hopWindow, s.at)) skipsDown++;
    else if (faults.cutDuring(s.by, s.skipped, s.at - hopWindow, s.at)) skipsCut++;
    else skipsRunning.push(`${s.by} skipped ${s.skipped} at ${Math.round(s.at)} ms`);
  }

  const rtts = completed.flatMap((r) => (r.rtt === undefined ? [] : [r.rtt]));
  const sample = [...completed].reverse().find((r) => (r.skipped?.length ?? 0) > 0) ?? completed.at(-1);
  const metrics: Metric[] = [
    { name: 'hop timeout × attempts', value: `${full.hopTimeoutMs} ms × ${full.hopAttempts}` },
    { name: 'rounds started', value: started },
    { name: 'rounds completed', value: completed.length },
    { name: 'rounds timed out at the client', value: timedOut },
    ...latencyMetrics('round trip', rtts),
    { name: 'rounds logged again by a restarted node', value: relogged },
    { name: 'skips (down/cut off/running)', value: `${skipsDown}/${skipsCut}/${skipsRunning.length}` },
    { name: 'a path', value: sample?.path ? `${sample.path.join('→')}${sample.skipped?.length ? ` (skipped ${sample.skipped.join(',')})` : ''}` : null },
    ...messageMetrics(world, perOp(started, 'msgs-per-round')),
  ];
  const what = p === RING_NAMES.protocol ? 'round' : 'message';
  const verdicts: Verdict[] = [
    {
      name: `every completed ${what} logged once along its path (per life of a node)`,
      ok: badLogs.length === 0,
      detail: badLogs.length === 0 ? `${completed.length} completed, each logged by every node it visited, once per life of the node; path + skipped = all ${n} nodes` : listSome(badLogs),
    },
    {
      name: 'skipped nodes were really down (or cut off)',
      ok: skipsRunning.length === 0 || loss > 0,
      detail:
        skipsRunning.length === 0
          ? `${skips.length} skips: ${skipsDown} of a crashed node, ${skipsCut} across a partition`
          : loss > 0
            ? `${skipsRunning.length} of ${skips.length} skips hit a running, reachable node: every attempt lost at loss ${loss} (${listSome(skipsRunning, 2)})`
            : `running, reachable nodes skipped without loss: ${listSome(skipsRunning)}`,
    },
    {
      name: `after healing, a ${what} from every node visits every node`,
      ok: finalsBack.length === n && (finalSkips === 0 || loss > 0),
      detail:
        finalsBack.length < n
          ? `${finalsBack.length}/${n} came back within ${roundTimeout} ms after healing at ${healedAt} ms`
          : `${n} ${what}s, each back within ${roundTimeout} ms (slowest ${Math.round(maxOf(finalsBack.map((r) => (r.completedAt as number) - r.startedAt)) ?? 0)} ms), ` +
            (finalSkips === 0 ? 'none skipped anyone' : `${finalSkips} skip(s) of running nodes${loss > 0 ? ` (every attempt lost at loss ${loss})` : ''}`),
    },
  ];
  return scenarioResult(scenario, options, { nodes: n, world, wallStart, metrics, verdicts });
}

export const ringScenario: Scenario = {
  name: 'ring',
  summary: 'token rounds from random origins under crashes and faults: path, skipped nodes, round trip; each node logs a round once',
  defaultNodes: RING_DEFAULTS.nodes,
  defaultDurationMs: RING_DEFAULTS.durationMs,
  run: (options) => runRingRounds('ring', RING_NAMES, ring, options),
};
