/**
 * The `kv` scenario: the replicated key-value store (src/protocols/kv.ts)
 * under partitions, loss and crashes, judged by the checkers of src/check.
 *
 * Clients work the way Jepsen's do. Each client is a process that runs one
 * operation at a time: a random put or get (and, in quorum mode, delete) on
 * one of a few keys, sent to a random node, with a per-operation timeout.
 * Every operation is recorded in a history (HistoryRecorder, stamped with the
 * virtual clock):
 *   ok    the node said so (a get of a missing key is an ok read of nothing);
 *   fail  the node said the operation certainly did not take effect (a
 *         definite error: "quorum not met" before anything was sent);
 *   info  anything else: an indefinite error or no answer in time. The
 *         operation may yet take effect, so the process that ran it can
 *         never be reused: the client carries on under a fresh process id.
 *
 * Two phases, as every scenario has:
 * 1. Workload and faults (`--duration`): the clients run while partitions,
 *    loss and crashes strike. Nothing here may break safety.
 * 2. Healing: partitions are removed, crashed nodes restart, the last
 *    operations finish, and hinted handoff and anti-entropy get time to
 *    bring every replica of every key to the same version. Then every node
 *    reads every key with r = N (all replicas), and those reads join the
 *    history: an acknowledged write must be visible to them.
 *
 * Verdicts:
 * - no acknowledged write lost: checkLostWrites over the whole history;
 * - linearizable (linearizable mode only): checkLinearizability. In quorum
 *   mode it is printed as information: quorum reads with last-writer-wins
 *   are not linearizable in general (a read can see a write that is still in
 *   flight and a later read not see it), so it is no promise;
 * - replicas converged after healing: within the bound, every hint has been
 *   delivered, every replica of every key holds the same version, and the
 *   final reads agree.
 */
import { checkLinearizability } from '../../check/linearizability.js';
import { HistoryRecorder, type HistoryEvent, type OpName, type PendingOperation } from '../../check/history.js';
import { checkLostWrites } from '../../check/lost-writes.js';
import { ErrorCode, isDefinite, type Body, type NodeId } from '../../protocols/envelope.js';
import { kv, DEFAULT_KV_CONFIG, type Kv, type KvConfig, type KvMode, type KvRecord } from '../../protocols/kv.js';
import { compareVersions } from '../../protocols/versions.js';
import { SimConfigError, type LatencyDist } from '../network.js';
import { Rng } from '../rng.js';
import { nodeIds } from '../world.js';
import { latencyMetrics, messageCounts, messageMetrics, perOp, scenarioResult, scenarioWorld } from './result.js';
import type { Metric, Scenario, ScenarioOptions, ScenarioResult, Verdict } from './types.js';

export const KV_SIM_DEFAULTS = {
  nodes: 5,
  durationMs: 20_000,
  /** Concurrent client processes. */
  clients: 4,
  /** Keys the clients work on: few, so operations contend. */
  keys: 3,
  /** Client operations per second, all clients together. */
  rate: 20,
  consistency: 'quorum' as KvMode,
  /** One-way latency between nodes (and between clients and nodes). */
  latency: { kind: 'uniform', min: 1, max: 5 } as LatencyDist,
  /** A client gives up on an operation after this long (longer than the store's own request timeout). */
  clientTimeoutMs: DEFAULT_KV_CONFIG.requestTimeoutMs + 500,
  /** Liveness bound: every replica of every key agrees within this long after healing. */
  healBoundMs: 30_000,
  /** How often the healing phase looks at the replicas. */
  pollMs: 100,
  /** Share of operations that are puts (quorum mode: deletes take 10% of the rest). */
  putShare: 0.5,
  deleteShare: 0.1,
  /** A final read is tried this many times before it counts as failed. */
  finalReadAttempts: 50,
  /** Bound of the linearizability search (explored states); above it the answer is "unknown". */
  maxStates: 2_000_000,
};

function consistencyOf(options: ScenarioOptions): KvMode {
  const mode = options.consistency ?? KV_SIM_DEFAULTS.consistency;
  if (mode !== 'quorum' && mode !== 'linearizable') throw new SimConfigError(`--consistency must be quorum or linearizable, got '${mode}'`);
  return mode;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new SimConfigError(`${name} must be an integer >= 1, got ${v}`);
  return v;
}

/** The command line that replays a run with these options. */
export function kvReplayCommand(options: ScenarioOptions): string {
  const parts = ['distlab sim kv', `--seed ${options.seed}`];
  if (options.nodes !== undefined) parts.push(`--nodes ${options.nodes}`);
  if (options.consistency !== undefined) parts.push(`--consistency ${options.consistency}`);
  if (options.clients !== undefined) parts.push(`--clients ${options.clients}`);
  if (options.keys !== undefined) parts.push(`--keys ${options.keys}`);
  if (options.rate !== undefined) parts.push(`--rate ${options.rate}`);
  if (options.durationMs !== undefined) parts.push(`--duration ${options.durationMs}ms`);
  const net = options.network ?? {};
  if (net.latency !== undefined) parts.push(`--latency-dist ${latencySpec(net.latency)}`);
  if (net.loss !== undefined) parts.push(`--loss ${net.loss}`);
  if (net.duplicate !== undefined) parts.push(`--dup ${net.duplicate}`);
  for (const p of options.partitions ?? []) parts.push(`--partition ${p.text}`);
  if (options.crashes) parts.push(`--crash ${options.crashes.everyMs}ms:${options.crashes.downMs}ms`);
  if (options.diskDelayMs !== undefined) parts.push(`--disk-delay ${options.diskDelayMs}ms`);
  return parts.join(' ');
}

function latencySpec(l: LatencyDist): string {
  if (l.kind === 'constant') return `const:${l.ms}`;
  if (l.kind === 'uniform') return `uniform:${l.min}-${l.max}`;
  return `exp:${l.floor}+${l.mean}`;
}

/** One client process's operation, as the scenario tracks it besides the history. */
interface Outcome {
  invokedAt: number;
  completedAt: number;
  type: 'ok' | 'fail' | 'info';
}

/**
 * Runs the scenario. `tuning` overrides the store's configuration (the
 * scenario itself uses N=3, R=2, W=2 and the mode from the options); tests
 * use it to show that the verdicts catch a store without quorum overlap.
 */
export function runKv(options: ScenarioOptions, tuning: Partial<KvConfig> = {}): ScenarioResult {
  const wallStart = performance.now();
  const d = KV_SIM_DEFAULTS;
  const n = positive(options.nodes, d.nodes, '--nodes');
  const mode = consistencyOf(options);
  const clients = positive(options.clients, d.clients, '--clients');
  const keyCount = positive(options.keys, d.keys, '--keys');
  const durationMs = options.durationMs ?? d.durationMs;
  const rate = options.rate ?? d.rate;
  const config: Partial<KvConfig> = { mode, n: Math.min(DEFAULT_KV_CONFIG.n, n) };
  config.r = Math.min(DEFAULT_KV_CONFIG.r, config.n as number);
  config.w = Math.min(DEFAULT_KV_CONFIG.w, config.n as number);
  Object.assign(config, tuning);
  if (mode === 'linearizable' && (config.r as number) + (config.w as number) <= (config.n as number)) {
    throw new SimConfigError('linearizable mode needs at least 2 nodes (r + w > n)');
  }
  const replicasPerKey = config.n as number;
  const ids = nodeIds(n);
  const keys = Array.from({ length: keyCount }, (_, i) => `k${i}`);

  const network = { latency: d.latency, ...options.network };
  const world = scenarioWorld(options, { nodes: ids, protocols: [kv(config)], faultEndMs: durationMs, network, onEvent: options.onEvent });

  const history = new HistoryRecorder({ clock: () => world.now });
  const rng = Rng.stream(options.seed, 'workload');
  let open = 0;
  let nextProcess = 1;

  /**
   * Sends one operation and records its fate; `onDone` runs when the client
   * knows it, with the value a successful get returned (null: no such key).
   */
  const operate = (process: number, clientId: NodeId, node: NodeId, f: OpName, key: string, body: Body, onDone: (type: Outcome['type'], read?: string | null) => void): Outcome => {
    const value = f === 'put' ? (body.value as string) : undefined;
    const op: PendingOperation = history.invoke(process, f, value === undefined ? { key } : { key, value });
    const outcome: Outcome = { invokedAt: world.now, completedAt: Infinity, type: 'info' };
    open++;
    world.client(clientId).request(
      node,
      body,
      (reply) => {
        open--;
        let read: string | null | undefined;
        outcome.completedAt = world.now;
        if (reply.type === 'kv.put_ok' || reply.type === 'kv.delete_ok') {
          op.ok();
          outcome.type = 'ok';
        } else if (reply.type === 'kv.get_ok') {
          read = reply.value as string;
          op.ok(read);
          outcome.type = 'ok';
        } else if (f === 'get' && reply.code === ErrorCode.KeyDoesNotExist) {
          read = null;
          op.ok(read);
          outcome.type = 'ok';
        } else if (typeof reply.code === 'number' && isDefinite(reply.code)) {
          op.fail(String(reply.error ?? reply.text ?? `error ${reply.code}`));
          outcome.type = 'fail';
        } else {
          op.info(String(reply.error ?? reply.text ?? 'indefinite'));
          outcome.type = 'info';
        }
        onDone(outcome.type, read);
      },
      d.clientTimeoutMs,
    );
    return outcome;
  };

  // The workload: closed-loop clients; between operations each pauses for a
  // random think time, so that together they offer about `rate` ops/s.
  const workload: Outcome[] = [];
  const meanThinkMs = (1000 * clients) / rate;
  let writes = 0;
  for (let c = 1; c <= clients; c++) {
    const clientId = `c${c}`;
    let process = nextProcess++;
    const next = () => {
      if (world.now >= durationMs) return;
      const key = keys[rng.int(keys.length)] as string;
      const node = ids[rng.int(n)] as NodeId;
      const roll = rng.float();
      let f: OpName;
      let body: Body;
      if (roll < d.putShare) {
        f = 'put';
        body = { type: 'kv.put', key, value: `${clientId}:${++writes}` };
      } else if (mode === 'quorum' && roll < d.putShare + d.deleteShare) {
        f = 'delete';
        body = { type: 'kv.delete', key };
      } else {
        f = 'get';
        body = { type: 'kv.get', key };
      }
      const outcome = operate(process, clientId, node, f, key, body, (type) => {
        if (type === 'info') process = nextProcess++; // the old process may still take effect: never reuse it
        world.after(rng.exponential(meanThinkMs), next);
      });
      workload.push(outcome);
    };
    world.at(rng.exponential(meanThinkMs), next);
  }

  // Phase 1: workload and faults.
  world.runUntil(durationMs);
  const faultPhase = { ...messageCounts(world), digests: world.stats.type('kv.ae_digest').sent + world.stats.type('kv.ae_digest_ok').sent };

  // Phase 2: heal, let the last operations finish, wait for the replicas to agree.
  const healedAt = world.now;
  world.network.healAll();
  for (const id of ids) world.restart(id);
  world.runFor(d.clientTimeoutMs + 1, () => open === 0);
  const kvAt = (id: NodeId) => world.protocol<Kv>(id, 'kv') as Kv;
  // Converged: no node still holds a hint (a write that reached only
  // fallback nodes is not settled until delivered), and every replica of
  // every key holds the same version. Returns what is not settled yet.
  const unsettled = (): string | undefined => {
    for (const id of ids) {
      const hints = kvAt(id).status().hints;
      if (hints > 0) return `node ${id} holds ${hints} undelivered hint(s)`;
    }
    for (const key of keys) {
      const replicas = kvAt(ids[0] as NodeId).preferenceList(key);
      const records = replicas.map((id) => kvAt(id).record(key));
      const first = records[0];
      const same = (r: KvRecord | undefined) => (r === undefined || first === undefined ? r === first : compareVersions(r.version, first.version) === 0);
      if (!records.every(same)) return `the replicas of key ${key} differ`;
    }
    return undefined;
  };
  let convergedAt: number | null = null;
  for (let t = world.now; t <= healedAt + d.healBoundMs; t += d.pollMs) {
    world.runUntil(t);
    if (unsettled() === undefined) {
      convergedAt = world.now;
      break;
    }
  }
  const stillUnsettled = unsettled();

  // The final reads: every node reads every key from all N replicas.
  const finalValues = new Map<string, Set<string>>();
  let finalFailed = 0;
  for (const key of keys) {
    finalValues.set(key, new Set());
    for (const node of ids) {
      // Loss stays on after healing, so a read of all N replicas may fail: try again, a few times.
      let attempts = 0;
      const attempt = () =>
        operate(nextProcess++, 'final', node, 'get', key, { type: 'kv.get', key, r: replicasPerKey }, (type, read) => {
          if (type === 'ok') finalValues.get(key)?.add(JSON.stringify(read));
          else if (++attempts < d.finalReadAttempts) attempt();
          else finalFailed++;
        });
      attempt();
    }
  }
  world.runFor(d.finalReadAttempts * (d.clientTimeoutMs + 1), () => open === 0);

  // Verdicts.
  const events: readonly HistoryEvent[] = history.events;
  options.onHistory?.(events);
  const verdicts: Verdict[] = [];
  const lost = checkLostWrites(events, { model: 'kv' });
  const firstLost = lost.lost[0];
  verdicts.push({
    name: 'no acknowledged write lost',
    ok: lost.valid !== false,
    detail:
      lost.valid !== false
        ? `${lost.acknowledgedWrites} acknowledged writes, ${lost.checkedWrites} followed by a read of their key, none lost`
        : `${lost.lost.length} lost, e.g. p${firstLost?.write.process} ${firstLost?.write.f} ${JSON.stringify(firstLost?.write.input ?? null)} on ${firstLost?.write.key}: ${firstLost?.why} (replay: ${kvReplayCommand(options)})`,
  });
  const lin = checkLinearizability(events, { model: 'kv', maxStates: d.maxStates, timeoutMs: 600_000 });
  const linText =
    lin.valid === true
      ? `yes (${lin.operations} operations on ${lin.partitions} keys)`
      : lin.valid === false
        ? `no (key ${lin.violation?.key})`
        : `unknown (${lin.reason})`;
  if (mode === 'linearizable') {
    verdicts.push({
      name: 'linearizable',
      ok: lin.valid === true,
      detail: lin.valid === true ? `${lin.operations} operations on ${lin.partitions} keys` : `${linText} (replay: ${kvReplayCommand(options)})`,
    });
  }
  const finalsAgree = [...finalValues.values()].every((set) => set.size === 1);
  const converged = convergedAt !== null && finalFailed === 0 && finalsAgree;
  verdicts.push({
    name: 'replicas converged after healing',
    ok: converged,
    detail: converged
      ? `hints delivered and every replica of ${keys.length} keys agrees ${Math.round((convergedAt as number) - healedAt)} ms after healing; ${keys.length * n} final reads (r=${replicasPerKey}) agree`
      : `${convergedAt === null ? `${stillUnsettled} ${d.healBoundMs} ms after healing; ` : ''}${finalFailed} final reads failed; final reads ${finalsAgree ? 'agree' : 'disagree'} (replay: ${kvReplayCommand(options)})`,
  });

  const count = (type: Outcome['type']) => workload.filter((o) => o.type === type).length;
  const latencies = workload.filter((o) => o.type === 'ok').map((o) => o.completedAt - o.invokedAt);
  const ops = workload.length;
  const metrics: Metric[] = [
    { name: 'consistency', value: `${mode} (N=${config.n}, R=${config.r}, W=${config.w})` },
    { name: 'clients / keys', value: `${clients} / ${keyCount}` },
    { name: 'operations', value: ops },
    { name: 'ok / fail / info', value: `${count('ok')} / ${count('fail')} / ${count('info')}` },
    { name: 'availability (ok / operations)', value: ops > 0 ? (100 * count('ok')) / ops : null, unit: '%' },
    ...latencyMetrics('latency', latencies, ['p50', 'p95', 'p99', 'max']),
    ...messageMetrics(faultPhase, perOp(ops), (sent) => perOp(ops, 'msgs-per-op without anti-entropy')(sent - faultPhase.digests)),
    { name: 'convergence after healing', value: convergedAt === null ? null : convergedAt - healedAt, unit: 'ms' },
  ];
  if (mode === 'quorum') metrics.push({ name: 'linearizable (information only)', value: linText });

  return scenarioResult('kv', options, { nodes: n, world, wallStart, metrics, verdicts });
}

export const kvScenario: Scenario = {
  name: 'kv',
  summary: 'replicated key-value store (quorum or linearizable) under faults: no acknowledged write lost, linearizable, replicas converge',
  defaultNodes: KV_SIM_DEFAULTS.nodes,
  defaultDurationMs: KV_SIM_DEFAULTS.durationMs,
  run: (options) => runKv(options),
};
