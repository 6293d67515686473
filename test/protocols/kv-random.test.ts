/**
 * Randomized runs of the kv store under crashes, restarts and partitions,
 * over a few dozen seeds each:
 * - linearizable mode: the client history is checked for linearizability by
 *   a small brute-force search (below);
 * - quorum mode: after healing, no acknowledged write is lost.
 * A failing seed is named in the assertion message so it can be replayed.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, isDefinite, type Body } from '../../src/protocols/envelope.js';
import { kv, type Kv, type KvConfig } from '../../src/protocols/kv.js';
import { compareVersions, type Version } from '../../src/protocols/versions.js';
import { Rng } from '../../src/sim/rng.js';
import { TestNet } from '../helpers/test-net.js';

interface Op {
  client: string;
  f: 'put' | 'get';
  key: string;
  /** put: the value written; get: the value read (null: no such key). */
  value: string | null;
  invoke: number;
  /** Infinity while unknown (pending or indefinite). */
  complete: number;
  status: 'ok' | 'fail' | 'info';
  version?: Version;
}

const NODES = ['1', '2', '3', '4'];
/** One key: every client contends for it. */
const KEYS = ['x'];
const CLIENT_TIMEOUT_MS = 1500;
const SEEDS = 100;

/**
 * Runs a workload of puts and gets from 4 clients while faults strike, then
 * heals everything and lets the cluster settle. Returns the history.
 */
function chaosRun(seed: number, config: Partial<KvConfig>, options: { membership?: boolean } = {}, durationMs = 3000) {
  const net = new TestNet(NODES, () => [kv({ antiEntropyIntervalMs: 400, hintIntervalMs: 300, ...config })], { seed, latencyMs: [1, 30], diskDelayMs: 40 });
  const workload = Rng.stream(seed, 'workload');
  const rng = (): number => workload.float();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const history: Op[] = [];
  let stopped = false;

  const runClient = (client: string) => {
    let counter = 0;
    const next = () => {
      if (stopped) return;
      const key = pick(KEYS);
      const isPut = rng() < 0.5;
      const op: Op = { client, f: isPut ? 'put' : 'get', key, value: isPut ? `${client}-${++counter}` : null, invoke: net.now, complete: Infinity, status: 'info' };
      history.push(op);
      let settled = false;
      const settle = (status: Op['status'], reply?: Body) => {
        if (settled) return;
        settled = true;
        op.status = status;
        if (status !== 'info') op.complete = net.now;
        if (reply && status === 'ok') {
          if (op.f === 'get') op.value = reply.type === 'kv.get_ok' ? (reply.value as string) : null;
          if (reply.version) op.version = reply.version as Version;
        }
        net.schedule(1 + Math.floor(rng() * 20), null, next);
      };
      const body = isPut ? { type: 'kv.put', key, value: op.value } : { type: 'kv.get', key };
      net.request(pick(net.members), body, client, (reply) => {
        if (reply.type === 'kv.put_ok' || reply.type === 'kv.get_ok') return settle('ok', reply);
        if (reply.type === 'error' && reply.code === ErrorCode.KeyDoesNotExist && op.f === 'get') return settle('ok', reply);
        settle(reply.type === 'error' && isDefinite(reply.code as number) ? 'fail' : 'info', reply);
      });
      net.schedule(CLIENT_TIMEOUT_MS, null, () => settle('info'));
    };
    next();
  };

  // Faults: every 100-400 ms crash, restart, partition or heal something.
  const chaos = () => {
    if (stopped) return;
    const action = rng();
    const all = [...net.nodes.keys()];
    const up = all.filter((n) => net.isUp(n));
    const down = all.filter((n) => !net.isUp(n));
    if (action < 0.15 && up.length > 1) net.crash(pick(up));
    else if (action < 0.3) {
      // A correlated failure (a power cut): two nodes, or now and then all of them, then back soon.
      const victims = [...up].sort(() => rng() - 0.5).slice(0, action < 0.2 ? all.length : 2);
      for (const v of victims) net.crash(v);
      net.schedule(50 + Math.floor(rng() * 200), null, () => victims.forEach((v) => net.restart(v)));
    }
    else if (action < 0.6 && down.length > 0) net.restart(pick(down));
    else if (action < 0.8) {
      const shuffled = [...all].sort(() => rng() - 0.5);
      const cut = 1 + Math.floor(rng() * (all.length - 1));
      net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
    } else if (action < 0.9) net.heal();
    else {
      // Lossy links: a tenth of the messages between nodes vanish.
      net.drop = () => rng() < 0.1;
    }
    net.schedule(100 + Math.floor(rng() * 300), null, chaos);
  };

  for (const c of ['c1', 'c2', 'c3', 'c4']) runClient(c);
  net.schedule(50, null, chaos);
  if (options.membership) {
    // A node joins a third of the way in; one of the others leaves (stays up, hands its keys off) at two thirds.
    net.schedule(durationMs / 3, null, () => {
      net.add('5');
      net.members = [...NODES, '5'];
    });
    net.schedule((2 * durationMs) / 3, null, () => {
      const leaver = pick(NODES);
      net.members = net.members.filter((m) => m !== leaver);
    });
  }
  net.run(durationMs);
  stopped = true;
  net.heal();
  for (const n of net.nodes.keys()) net.restart(n);
  net.run(CLIENT_TIMEOUT_MS + 4000); // pending requests end; anti-entropy and hints settle
  return { net, history };
}

// ------------------------------------------------------------------ checker

/**
 * Brute-force linearizability of one key's register history (Wing & Gong
 * with memoization): try every order of the operations that respects real
 * time — an operation may go next only if no other remaining operation
 * completed before it was invoked — and the register's semantics. An info
 * put may take effect at any point after its invoke, or never.
 */
export function linearizable(ops: readonly Op[]): boolean {
  const live = ops.filter((o) => o.status === 'ok' || (o.status === 'info' && o.f === 'put'));
  const mustPlace = live.filter((o) => o.status === 'ok').length;
  const done = new Array<boolean>(live.length).fill(false);
  const seen = new Set<string>();
  const search = (placed: number, state: string | null): boolean => {
    if (placed === mustPlace) return true;
    const memo = `${done.map((d) => (d ? 1 : 0)).join('')}|${state}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    let horizon = Infinity;
    live.forEach((o, i) => {
      if (!done[i]) horizon = Math.min(horizon, o.complete);
    });
    for (let i = 0; i < live.length; i++) {
      const op = live[i]!;
      if (done[i] || op.invoke > horizon) continue;
      if (op.f === 'get' && op.value !== state) continue;
      done[i] = true;
      const ok = search(placed + (op.status === 'ok' ? 1 : 0), op.f === 'put' ? op.value : state);
      done[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return search(0, null);
}

/** Info puts whose value nobody read can be taken to have never happened: drop them to keep the search small. */
function relevant(ops: readonly Op[]): Op[] {
  const read = new Set(ops.filter((o) => o.f === 'get' && o.status === 'ok').map((o) => o.value));
  return ops.filter((o) => !(o.f === 'put' && o.status === 'info' && !read.has(o.value)));
}

function byKey(history: readonly Op[]): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  for (const op of history) out.set(op.key, [...(out.get(op.key) ?? []), op]);
  return out;
}

const op = (f: Op['f'], value: string | null, invoke: number, complete: number, status: Op['status'] = 'ok'): Op => ({ client: 'c', f, key: 'k', value, invoke, complete, status });

describe('the brute-force linearizability checker', () => {
  it('accepts a sequential history and overlapping operations in either order', () => {
    expect(linearizable([op('put', 'a', 0, 1), op('get', 'a', 2, 3)])).toBe(true);
    expect(linearizable([op('put', 'a', 0, 10), op('get', null, 1, 2), op('get', 'a', 3, 4)])).toBe(true);
  });
  it('rejects a stale read after a completed write, and a read going back in time', () => {
    expect(linearizable([op('put', 'a', 0, 1), op('get', null, 2, 3)])).toBe(false);
    expect(linearizable([op('put', 'a', 0, 1), op('put', 'b', 2, 20), op('get', 'b', 3, 4), op('get', 'a', 5, 6)])).toBe(false);
  });
  it('lets an indefinite put take effect late or never', () => {
    expect(linearizable([op('put', 'a', 0, Infinity, 'info'), op('get', null, 1, 2), op('get', 'a', 3, 4)])).toBe(true);
    expect(linearizable([op('put', 'a', 0, Infinity, 'info'), op('get', null, 5, 6)])).toBe(true);
    expect(linearizable([op('put', 'a', 0, Infinity, 'info'), op('get', 'a', 3, 4), op('get', null, 5, 6)])).toBe(false);
    expect(linearizable([op('put', 'a', 0, 100), op('get', 'a', 10, 20), op('get', null, 30, 40)])).toBe(false);
  });
});

describe('kv under crashes and partitions', () => {
  it('the harness has teeth: with R = W = 1 (no quorum intersection) it finds stale reads', () => {
    let violations = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const { history } = chaosRun(seed, { r: 1, w: 1 });
      for (const [, ops] of byKey(history)) if (!linearizable(relevant(ops))) violations++;
    }
    expect(violations).toBeGreaterThan(0);
  });

  it(`linearizable mode: every history over ${SEEDS} seeds is linearizable`, () => {
    let okReads = 0;
    let okWrites = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { history } = chaosRun(seed, { mode: 'linearizable' });
      for (const [key, ops] of byKey(history)) {
        expect(linearizable(relevant(ops)), `seed ${seed}, key ${key}`).toBe(true);
      }
      okReads += history.filter((o) => o.f === 'get' && o.status === 'ok').length;
      okWrites += history.filter((o) => o.f === 'put' && o.status === 'ok').length;
    }
    // The runs did real work, not only failures.
    expect(okReads).toBeGreaterThan(100);
    expect(okWrites).toBeGreaterThan(100);
  });

  it.each([
    ['', false],
    [', while a node joins and another leaves', true],
  ])(`quorum mode: no acknowledged write is lost across crashes, restarts and partitions%s (${SEEDS} seeds)`, (_, membership) => {
    let acked = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { net, history } = chaosRun(seed, { mode: 'quorum' }, { membership });
      for (const key of KEYS) {
        const puts = history.filter((o) => o.key === key && o.f === 'put' && o.status === 'ok');
        acked += puts.length;
        if (puts.length === 0) continue;
        const newestAcked = puts.reduce((a, b) => (compareVersions(a.version!, b.version!) >= 0 ? a : b));
        // Every replica of the key, after healing, holds the newest acknowledged write or a newer one.
        const replicas = net.node(net.members[0]!).protocol<Kv>('kv')!.preferenceList(key);
        for (const node of replicas) {
          const record = net.node(node).protocol<Kv>('kv')!.record(key);
          expect(record, `seed ${seed}: ${key} missing on ${node}`).toBeDefined();
          expect(compareVersions(record!.version, newestAcked.version!), `seed ${seed}: ${key} on ${node} older than acknowledged ${newestAcked.value}`).toBeGreaterThanOrEqual(0);
          const writer = history.find((o) => o.f === 'put' && o.key === key && o.value === record!.value);
          expect(writer, `seed ${seed}: ${key} on ${node} holds a value nobody wrote`).toBeDefined();
        }
        const final = net.ask(net.members[0]!, { type: 'kv.get', key });
        expect(final.value, `seed ${seed}: final read of ${key}`).toBe(net.node(replicas[0]!).protocol<Kv>('kv')!.record(key)!.value);
      }
      // A node that left the cluster handed every key it held to the new owners.
      const left = [...net.nodes.keys()].filter((id) => !net.members.includes(id));
      expect(left, `seed ${seed}: nodes that left`).toHaveLength(membership ? 1 : 0);
      for (const id of left) {
        const status = net.node(id).protocol<Kv>('kv')!.status();
        expect(status.keys + status.tombstones, `seed ${seed}: node ${id} left but still holds keys`).toBe(0);
      }
    }
    expect(acked).toBeGreaterThan(100);
  });
});
