/**
 * Scenario `election` (src/protocols/election.ts), `--algorithm bully`
 * (highest id alive leads, the default) or `--algorithm lowest`.
 *
 * Without `--crash` or `--partition` the scenario plays the handout's story:
 * the rightful leader is killed a third of the way in and comes back at two
 * thirds; it reports how long the survivors took to agree on the next leader
 * and how long the returning node took to lead again. With fault flags it
 * runs those instead. Either way everything heals at the end of the fault
 * phase, and then:
 *
 * verdict: every node (all are running and connected after healing) agrees
 * on one leader — the highest id for bully, the lowest for lowest — within
 * the stated bound. The leader changes in the announce interval after that
 * are counted (with `--loss`, a lowest-id node whose pings to the leader
 * all go unanswered picks the next id for a round).
 *
 * The protocol's defaults assume loopback round trips; when the one-way
 * latency ceiling exceeds a quarter of the ping timeout, every timeout is
 * scaled up by the same factor, and the output says so.
 */
import { compareIds, type NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import { DEFAULT_ELECTION_CONFIG, election, type Election, type ElectionAlgorithm, type ElectionConfig } from '../../protocols/election.js';
import { DEFAULT_NETWORK, SimConfigError, type LatencyDist } from '../network.js';
import { nodeIds } from '../world.js';
import { latencyCeiling, pollUntil } from './observe.js';
import { messageMetrics, perNodePerSecond, scenarioResult, scenarioWorld } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const ELECTION_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  /** Agreement is checked this often (virtual ms). */
  pollMs: 10,
};

/** The election timeouts for this latency: the loopback defaults, scaled by `factor` ≥ 1. */
export function electionConfigFor(algorithm: ElectionAlgorithm, latency: LatencyDist): { config: ElectionConfig; factor: number } {
  const d = DEFAULT_ELECTION_CONFIG;
  const factor = Math.max(1, (4 * latencyCeiling(latency)) / d.pingTimeoutMs);
  const scale = (ms: number): number => Math.ceil(ms * factor);
  return {
    factor,
    config: {
      algorithm,
      electionTimeoutMs: scale(d.electionTimeoutMs),
      coordinatorTimeoutMs: scale(d.coordinatorTimeoutMs),
      announceIntervalMs: scale(d.announceIntervalMs),
      pingIntervalMs: scale(d.pingIntervalMs),
      pingTimeoutMs: scale(d.pingTimeoutMs),
      pingAttempts: d.pingAttempts,
    },
  };
}

/**
 * How long after healing agreement may take: a lost leader is noticed within
 * two ping periods of every attempt (one may be lost), then an election round, a wait for the
 * coordinator, and an announcement interval for split leaders to meet.
 */
export function electionBoundMs(c: ElectionConfig): number {
  return 2 * (c.pingIntervalMs + c.pingAttempts * c.pingTimeoutMs) + c.electionTimeoutMs + c.coordinatorTimeoutMs + c.announceIntervalMs;
}

export function parseAlgorithm(raw: string | undefined): ElectionAlgorithm {
  if (raw === undefined) return DEFAULT_ELECTION_CONFIG.algorithm;
  if (raw !== 'bully' && raw !== 'lowest') throw new SimConfigError(`--algorithm must be bully or lowest, got '${raw}'`);
  return raw;
}

export function runElection(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? ELECTION_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? ELECTION_DEFAULTS.durationMs;
  const algorithm = parseAlgorithm(options.algorithm);
  const ids = nodeIds(n);
  const { config, factor } = electionConfigFor(algorithm, options.network?.latency ?? DEFAULT_NETWORK.latency);
  const bound = electionBoundMs(config);
  /** The rightful leader among `nodes`. */
  const rightful = (nodes: readonly NodeId[]): NodeId | undefined => [...nodes].sort(compareIds)[algorithm === 'bully' ? nodes.length - 1 : 0];

  let changes = 0;
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    if (e.type === 'leader.changed') changes++;
  };
  const world = scenarioWorld(options, { nodes: ids, protocols: [election(config)], faultEndMs: durationMs, onEvent });

  const leaders = (): Array<NodeId | null> => world.liveNodes().map((id) => world.protocol<Election>(id, 'election')?.status().leader_id ?? null);
  const allFollow = (leader: NodeId | undefined) => (): boolean => leader !== undefined && leaders().every((l) => l === leader);

  // The scripted story, when no faults were asked for: kill the leader, bring it back.
  const scripted = !options.crashes && (options.partitions ?? []).length === 0 && n > 1;
  let reElection: number | null = null;
  let comeback: number | null = null;
  let victim: NodeId | undefined;
  const initial = pollUntil(world, bound, ELECTION_DEFAULTS.pollMs, allFollow(rightful(ids)));
  if (scripted) {
    world.runUntil(Math.max(world.now, durationMs / 3));
    victim = rightful(ids) as NodeId;
    world.crash(victim);
    reElection = pollUntil(world, durationMs / 3, ELECTION_DEFAULTS.pollMs, allFollow(rightful(world.liveNodes())));
    world.runUntil(Math.max(world.now, (2 * durationMs) / 3));
    world.restart(victim);
    comeback = pollUntil(world, durationMs / 3, ELECTION_DEFAULTS.pollMs, allFollow(victim));
  }
  world.runUntil(Math.max(world.now, durationMs));
  world.network.healAll();
  const healedAt = world.now;
  const changesBeforeHealing = changes;

  // Liveness: all nodes agree on the rightful leader within the bound, and keep agreeing.
  const expected = rightful(ids) as NodeId;
  const agreedAfter = pollUntil(world, bound, ELECTION_DEFAULTS.pollMs, allFollow(expected));
  // Afterwards: how often a node changed its mind in one more announce interval (loss can make lowest-id flap).
  const changesAtAgreement = changes;
  if (agreedAfter !== null) world.runFor(config.announceIntervalMs);
  const flaps = changes - changesAtAgreement;
  const finalLeaders = leaders();

  const verdicts: Verdict[] = [
    {
      name: `after healing, all nodes agree on the ${algorithm === 'bully' ? 'highest' : 'lowest'} id within ${bound} ms`,
      ok: agreedAfter !== null,
      detail:
        agreedAfter === null
          ? `no agreement on ${expected} within ${bound} ms of healing at ${healedAt} ms: leaders ${finalLeaders.map((l) => l ?? '-').join(',')}`
          : `all ${n} follow ${expected} ${agreedAfter} ms after healing; ${flaps} leader change(s) in the next ${config.announceIntervalMs} ms`,
    },
  ];
  if (scripted) {
    verdicts.push({
      name: 'the survivors agree on the next leader, the old one leads again on return',
      ok: reElection !== null && comeback !== null,
      detail: `node ${victim} killed: ${reElection === null ? 'no agreement' : `agreement after ${reElection} ms`}; back: ${comeback === null ? 'never led again' : `all follow it after ${comeback} ms`}`,
    });
  }
  return scenarioResult('election', options, {
    nodes: n,
    world,
    wallStart,
    metrics: [
      { name: 'algorithm', value: algorithm },
      {
        name: 'timeouts (ping interval/timeout, election)',
        value: `${config.pingIntervalMs}/${config.pingTimeoutMs}, ${config.electionTimeoutMs} ms${factor > 1 ? ` (loopback defaults ×${factor.toFixed(2)} for the latency)` : ' (loopback defaults)'}`,
      },
      { name: 'first agreement after boot', value: initial, unit: 'ms' },
      { name: 're-election after the leader was killed', value: reElection, unit: 'ms' },
      { name: 'agreement after the old leader returned', value: comeback, unit: 'ms' },
      { name: 'leader changes (all nodes, fault phase)', value: changesBeforeHealing },
      { name: 'leader changes after healing', value: changes - changesBeforeHealing },
      { name: 'agreement after healing', value: agreedAfter, unit: 'ms' },
      { name: 'leader changes in the interval after agreement', value: agreedAfter === null ? null : flaps },
      { name: 'bound', value: bound, unit: 'ms' },
      ...messageMetrics(world, perNodePerSecond(n, world.now)),
    ],
    verdicts,
  });
}

export const electionScenario: Scenario = {
  name: 'election',
  summary: 'leader election (--algorithm bully|lowest): kill and revive the leader, or your faults; agreement on the right leader after healing',
  defaultNodes: ELECTION_DEFAULTS.nodes,
  defaultDurationMs: ELECTION_DEFAULTS.durationMs,
  run: runElection,
};
