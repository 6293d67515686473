/**
 * kv's anti-entropy digest index (DigestIndex, kv-antientropy.ts) in a
 * running cluster: whatever happens — writes, deletes, crashes, restarts,
 * partitions, nodes joining and leaving — every node's index must give the
 * digests that counting its stored keys afresh gives, and its set of keys to
 * hand off must be exactly the keys it holds but does not own. These tests
 * look inside Kv (private fields, through `any`) on purpose: the invariant
 * is about its internal state.
 */
import { describe, expect, it } from 'vitest';
import type { Body } from '../../src/protocols/envelope.js';
import { digest } from '../../src/protocols/kv-antientropy.js';
import { kv, type Kv, type KvConfig } from '../../src/protocols/kv.js';
import { Rng } from '../../src/sim/rng.js';
import { TestNet } from '../helpers/test-net.js';

const NODES = ['1', '2', '3', '4'];

const inside = (net: TestNet, id: string): any => net.protocol<Kv>(id, 'kv');

function checkIndexes(net: TestNet, where: string): void {
  for (const id of net.nodes.keys()) {
    if (!net.isUp(id)) continue;
    const k = inside(net, id);
    k.syncMembership();
    for (const peer of net.members) {
      if (peer === id) continue;
      for (const before of [net.now - k.config.antiEntropySettleMs, net.now + 1e9]) {
        const fromIndex = k.digests.digestFor(peer, before);
        if (fromIndex === undefined) continue;
        expect(fromIndex, `${where}: node ${id}, peer ${peer}, before ${before}`).toEqual(digest(k.sharedWith(peer, before), k.config.digestBuckets));
      }
    }
    const notOwned = k
      .held()
      .map(([key]: [string]) => key)
      .filter((key: string) => !k.replicasOf(key).includes(id))
      .sort();
    expect([...k.leaving].sort(), `${where}: node ${id}, keys to hand off`).toEqual(notOwned);
  }
}

function chaosRun(seed: number, config: Partial<KvConfig>): void {
  const net = new TestNet(NODES, () => [kv({ antiEntropyIntervalMs: 150, antiEntropySettleMs: 100, hintIntervalMs: 120, ...config })], {
    seed,
    latencyMs: [1, 30],
    diskDelayMs: 20,
  });
  const rng = Rng.stream(seed, 'digest-index');
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  let stopped = false;
  const client = () => {
    if (stopped) return;
    const key = `k${rng.int(40)}`;
    const r = rng.float();
    const body = r < 0.5 ? { type: 'kv.put', key, value: `v${rng.int(1e6)}` } : r < 0.6 ? { type: 'kv.delete', key } : { type: 'kv.get', key };
    const up = [...net.nodes.keys()].filter((n) => net.isUp(n) && net.members.includes(n));
    if (up.length > 0) net.request(pick(up), body, `c${rng.int(3)}`);
    net.schedule(1 + rng.int(8), null, client);
  };
  const chaos = () => {
    if (stopped) return;
    const all = [...net.nodes.keys()];
    const a = rng.float();
    if (a < 0.2) net.crash(pick(all));
    else if (a < 0.5) {
      const down = all.filter((n) => !net.isUp(n));
      if (down.length > 0) net.restart(pick(down));
    } else if (a < 0.7) {
      const shuffled = [...all].sort(() => rng.float() - 0.5);
      net.partition(shuffled.slice(0, 2), shuffled.slice(2));
    } else net.heal();
    net.schedule(50 + rng.int(200), null, chaos);
  };
  const checker = () => {
    if (stopped) return;
    checkIndexes(net, `seed ${seed}, t=${net.now.toFixed(1)}`);
    net.schedule(10, null, checker);
  };
  client();
  net.schedule(30, null, chaos);
  net.schedule(7, null, checker);
  net.schedule(600, null, () => {
    net.add('5');
    net.members = [...NODES, '5'];
  });
  net.schedule(1300, null, () => (net.members = net.members.filter((m) => m !== pick(NODES))));
  net.schedule(1800, null, () => {
    net.members = [...net.members, '6'];
    net.add('6');
  });
  net.run(2500);
  stopped = true;
  net.heal();
  for (const n of net.nodes.keys()) net.restart(n);
  net.run(3000);
  checkIndexes(net, `seed ${seed}, end`);
}

describe('the anti-entropy digest index in a running cluster', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('equals digests counted afresh through crashes, partitions, joins and a leave (seed %i)', (seed) => {
    chaosRun(seed, {});
  });

  it.each([1, 2, 3, 4])('does so with sloppy quorums and hints too (n=2, r=w=1, seed %i)', (seed) => {
    chaosRun(seed, { sloppy: true, n: 2, r: 1, w: 1 });
  });

  it('answers a digest by the current ring, even before the node did anything else since it changed', () => {
    const net = new TestNet(NODES, () => [kv({ antiEntropyIntervalMs: 1e9 })], { seed: 1 });
    for (let i = 0; i < 50; i++) net.ask('1', { type: 'kv.put', key: `k${i}`, value: 'v' });
    net.run(3000);
    net.add('5');
    net.members = [...NODES, '5'];
    const k1 = inside(net, '1');
    const zeros = new Array(k1.config.digestBuckets).fill(0);
    const ask = () => {
      let answer: Body | undefined;
      k1.onDigest('5', { type: 'kv.ae_digest', before: net.now - 1000, buckets: zeros }, (b: Body) => (answer = b));
      return answer!;
    };
    // Node 5, new and empty, asks node 1 first thing: node 1 must answer for the new ring.
    const first = ask();
    expect((first.records as unknown[]).length).toBeGreaterThan(0);
    expect(first).toEqual(ask());
  });

  it('keeps a key whose handoff completes after the ring gave it back to this node', () => {
    const net = new TestNet(['1', '2', '3'], () => [kv({ antiEntropyIntervalMs: 1e9, hintIntervalMs: 1e9 })], { seed: 3 });
    for (let i = 0; i < 60; i++) net.ask('1', { type: 'kv.put', key: `k${i}`, value: 'v' });
    net.run(2000);
    // Node 4 joins: node 1 no longer owns some keys, and a round hands them to their new owners...
    net.add('4');
    net.members = ['1', '2', '3', '4'];
    const k1 = inside(net, '1');
    k1.antiEntropyRound();
    expect(k1.delivering.size).toBeGreaterThan(0);
    // ...but node 4 leaves before the acknowledgements arrive: with three nodes, node 1 owns every key again.
    net.members = ['1', '2', '3'];
    net.run(2000);
    expect(k1.held()).toHaveLength(60);
    checkIndexes(net, 'after the ring came back');
  });

  it('after a restart folds the old keys at once, rather than queueing every key behind a recent one', () => {
    const net = new TestNet(['1', '2', '3'], () => [kv({ antiEntropyIntervalMs: 1e9 })], { seed: 2 });
    for (let i = 0; i < 300; i++) net.ask('1', { type: 'kv.put', key: `k${String(i).padStart(3, '0')}`, value: 'old' });
    net.run(10_000);
    // First in key order, and recent: reindex() adds keys in key order.
    net.ask('1', { type: 'kv.put', key: 'a', value: 'new' });
    net.crash('1');
    net.restart('1');
    expect(inside(net, '1').digests.young.size).toBeLessThanOrEqual(1);
  });
});
