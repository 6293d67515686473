/**
 * Scenario `broadcast-all` (src/protocols/broadcast-all.ts): clients ask
 * random running nodes to send a message to everyone, while nodes crash,
 * partitions come and go and messages are lost. The initiator answers with
 * the peers that acknowledged and the ones it gave up on (`missing`).
 *
 * Verdicts:
 * - every peer the initiator reported as `acked` recorded the message, and
 *   no node recorded a message twice in one incarnation;
 * - every peer reported `missing` was really down, or cut off by a
 *   partition, while it was being asked — with `--loss` a running node can
 *   also be missed because every attempt was lost, and those are counted;
 * - no node recorded a message no client sent;
 * - after healing, a message from every node reaches every node (with
 *   `--loss`, a peer whose every attempt was lost may still miss one; such
 *   misses are shown).
 *
 * One-to-all repairs nothing later: a node that was down misses the message
 * for good. That is the lesson, and the figure `messages missed` shows it.
 */
import type { NodeId } from '../../protocols/envelope.js';
import type { StampedEvent } from '../../protocols/env.js';
import { broadcastAll, DEFAULT_BROADCAST_ALL_CONFIG } from '../../protocols/broadcast-all.js';
import { DEFAULT_NETWORK } from '../network.js';
import { Rng } from '../rng.js';
import { nodeIds } from '../world.js';
import { latencyCeiling, listSome, type FaultLog } from './observe.js';
import { latencyMetrics, messageMetrics, observedWorld, perOp, scenarioResult } from './result.js';
import type { Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const BROADCAST_ALL_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  /** Broadcasts per second during the fault phase. */
  rate: 2,
};

interface Sent {
  id: string;
  message: string;
  origin: NodeId;
  startedAt: number;
  doneAt?: number;
  acked?: NodeId[];
  missing?: NodeId[];
  rtt?: number;
}

export function runBroadcastAll(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const n = options.nodes ?? BROADCAST_ALL_DEFAULTS.nodes;
  const durationMs = options.durationMs ?? BROADCAST_ALL_DEFAULTS.durationMs;
  const ids = nodeIds(n);
  const latency = options.network?.latency ?? DEFAULT_NETWORK.latency;
  // The default ack timeout, or 4 one-way latencies when the network is slower.
  const config = { ...DEFAULT_BROADCAST_ALL_CONFIG, ackTimeoutMs: Math.max(DEFAULT_BROADCAST_ALL_CONFIG.ackTimeoutMs, Math.ceil(4 * latencyCeiling(latency))) };

  const sends = new Map<string, Sent>();
  const received = new Map<string, number>(); // `${node}|${incarnation}|${id}` -> times recorded
  const holders = new Map<string, Set<NodeId>>(); // id -> nodes that recorded it
  const incarnation = new Map<NodeId, number>();
  const invented: string[] = [];
  const clientMessages = new Set<string>();
  let faults: FaultLog | undefined;
  const onEvent = (e: StampedEvent): void => {
    options.onEvent?.(e);
    faults?.onEvent(e);
    if (e.type === 'sim.restarted') incarnation.set(e.node, (incarnation.get(e.node) ?? 0) + 1);
    else if (e.type === 'broadcast_all.received') {
      const id = e.id as string;
      const key = `${e.node}|${incarnation.get(e.node) ?? 0}|${id}`;
      received.set(key, (received.get(key) ?? 0) + 1);
      let h = holders.get(id);
      if (!h) holders.set(id, (h = new Set()));
      h.add(e.node);
      if (!clientMessages.has(e.message as string)) invented.push(`${e.node} holds ${JSON.stringify(e.message)}`);
      if (e.origin === e.node && !sends.has(id)) sends.set(id, { id, message: e.message as string, origin: e.node, startedAt: e.time });
    } else if (e.type === 'broadcast_all.done') {
      const s = sends.get(e.id as string);
      if (s) Object.assign(s, { doneAt: e.time, acked: e.acked as NodeId[], missing: e.missing as NodeId[], rtt: e.rtt_ms as number });
    }
  };

  const observed = observedWorld(options, { nodes: ids, protocols: [broadcastAll(config)], faultEndMs: durationMs, onEvent });
  const world = observed.world;
  faults = observed.faults;
  const sendWindow = config.attempts * config.ackTimeoutMs + 2 * latencyCeiling(latency);

  const rng = Rng.stream(options.seed, 'workload');
  let requested = 0;
  const send = (origin: NodeId, message: string, onDone?: () => void): void => {
    requested++;
    clientMessages.add(message);
    world.client(`c${1 + rng.int(3)}`).request(origin, { type: 'broadcast_all.send', message }, () => onDone?.(), sendWindow + 1000);
  };
  const gap = 1000 / (options.rate ?? BROADCAST_ALL_DEFAULTS.rate);
  for (let t = gap, i = 1; t < durationMs; t += gap, i++) {
    world.at(t, () => {
      const live = world.liveNodes();
      if (live.length > 0) send(live[rng.int(live.length)] as NodeId, `m${i}`);
    });
  }
  world.runUntil(durationMs);
  world.network.healAll();
  const healedAt = world.now;

  // Liveness: after healing, one message from every node must reach every node.
  const finalOk: string[] = [];
  let finalMisses = 0;
  for (const origin of ids) {
    const message = `after-healing-from-${origin}`;
    let answered = false;
    send(origin, message, () => (answered = true));
    world.runFor(sendWindow + 1000, () => answered);
    const s = [...sends.values()].find((x) => x.message === message);
    if (!s?.missing) continue;
    finalOk.push(origin);
    finalMisses += n - (holders.get(s.id)?.size ?? 0);
  }

  const done = [...sends.values()].filter((s) => s.doneAt !== undefined);
  const badAcks: string[] = [];
  for (const s of done) for (const peer of s.acked ?? []) if (!holders.get(s.id)?.has(peer)) badAcks.push(`${s.id}: ${peer} acked but never recorded it`);
  for (const [key, count] of received) if (count > 1) badAcks.push(`${key.replace(/\|/g, ' ')}: recorded ${count} times`);

  const loss = world.network.config.loss;
  let missDown = 0;
  let missCut = 0;
  const missRunning: string[] = [];
  for (const s of done) {
    for (const peer of s.missing ?? []) {
      if (faults.downDuring(peer, s.startedAt, s.doneAt as number)) missDown++;
      else if (faults.cutDuring(s.origin, peer, s.startedAt, s.doneAt as number)) missCut++;
      else missRunning.push(`${s.id} missed running ${peer}`);
    }
  }
  const notEverywhere = [...sends.values()].filter((s) => (holders.get(s.id)?.size ?? 0) < n).length;

  const rtts = done.map((s) => s.rtt as number);
  const verdicts: Verdict[] = [
    {
      name: 'acknowledged means delivered, once',
      ok: badAcks.length === 0,
      detail: badAcks.length === 0 ? `${done.length} broadcasts finished; every acked peer recorded its message, none twice` : listSome(badAcks),
    },
    {
      name: 'missing peers were really down (or cut off)',
      ok: missRunning.length === 0 || loss > 0,
      detail:
        missRunning.length === 0
          ? `${missDown + missCut} misses: ${missDown} of a crashed node, ${missCut} across a partition`
          : loss > 0
            ? `${missRunning.length} misses of a running, reachable node: every attempt lost at loss ${loss} (${listSome(missRunning, 2)})`
            : `running, reachable peers reported missing without loss: ${listSome(missRunning)}`,
    },
    { name: 'no message invented', ok: invented.length === 0, detail: invented.length === 0 ? 'every message recorded was sent by a client' : listSome(invented) },
    {
      name: 'after healing, a message from every node reaches every node',
      ok: finalOk.length === n && (finalMisses === 0 || loss > 0),
      detail:
        finalOk.length < n
          ? `only the broadcasts from ${finalOk.join(',') || 'none'} of ${n} nodes finished after healing at ${healedAt} ms`
          : finalMisses === 0
            ? `${n} broadcasts after healing at ${healedAt} ms, each recorded by all ${n} nodes`
            : `${n} broadcasts finished; ${finalMisses} (node, message) pairs missed${loss > 0 ? ` (every attempt lost at loss ${loss})` : ''}`,
    },
  ];
  return scenarioResult('broadcast-all', options, {
    nodes: n,
    world,
    wallStart,
    metrics: [
      { name: 'ack timeout × attempts', value: `${config.ackTimeoutMs} ms × ${config.attempts}` },
      { name: 'broadcasts requested', value: requested },
      { name: 'broadcasts finished', value: done.length },
      ...latencyMetrics('round trip', rtts, ['p50', 'max']),
      { name: 'misses (down/cut off/running)', value: `${missDown}/${missCut}/${missRunning.length}` },
      { name: 'messages that missed some node', value: `${notEverywhere}/${sends.size}` },
      ...messageMetrics(world, perOp(requested)),
    ],
    verdicts,
  });
}

export const broadcastAllScenario: Scenario = {
  name: 'broadcast-all',
  summary: 'one-to-all broadcast under crashes and faults: acked means delivered, missing means down or cut off',
  defaultNodes: BROADCAST_ALL_DEFAULTS.nodes,
  defaultDurationMs: BROADCAST_ALL_DEFAULTS.durationMs,
  run: runBroadcastAll,
};
