import { describe, expect, it } from 'vitest';
import { ErrorCode, isDefinite } from '../../src/protocols/envelope.js';
import { DEFAULT_KV_CONFIG, Kv, kv, type KvConfig, type KvRecord } from '../../src/protocols/kv.js';
import { bucketOf } from '../../src/protocols/kv-antientropy.js';
import { partitioner } from '../../src/protocols/sharding.js';
import { compareVersions, type Version } from '../../src/protocols/versions.js';
import { TestNet } from '../helpers/test-net.js';
import { ManualHost } from '../helpers/manual-host.js';

function cluster(size: number, config: Partial<KvConfig> = {}, seed = 1): TestNet {
  const ids = Array.from({ length: size }, (_, i) => String(i + 1));
  return new TestNet(ids, () => [kv(config)], { seed });
}

const store = (net: TestNet, id: string) => net.node(id).protocol<Kv>('kv')!;
/** A key whose replicas (owner first) are the given nodes, found by trying names. */
function keyOn(net: TestNet, replicas: string[]): string {
  for (let i = 0; i < 10_000; i++) {
    const key = `k${i}`;
    const prefs = store(net, replicas[0]!).preferenceList(key);
    if (prefs.length === replicas.length && prefs.every((p, j) => p === replicas[j])) return key;
  }
  throw new Error(`no key with replicas ${replicas}`);
}

describe('kv on one node (ManualHost)', () => {
  it('answers malformed client requests with a definite error 12', () => {
    const host = ManualHost.start('1', ['1'], [kv({ n: 1, r: 1, w: 1 })]);
    host.deliver('c', { type: 'kv.put', key: '', value: 1, msg_id: 1 });
    host.deliver('c', { type: 'kv.put', key: 'a', msg_id: 2 });
    host.deliver('c', { type: 'kv.get', key: 'a', r: 5, msg_id: 3 });
    const replies = host.takeSent().map((m) => m.body);
    expect(replies).toHaveLength(3);
    for (const r of replies) expect(r).toMatchObject({ type: 'error', code: ErrorCode.MalformedRequest });
  });

  it('acknowledges a write only once its replica write is durable', () => {
    const host = ManualHost.start('1', ['1'], [kv({ n: 1, r: 1, w: 1 })]);
    host.advance(1); // past the start
    host.deliver('c', { type: 'kv.put', key: 'a', value: 'x', msg_id: 1 });
    // The clock ceiling and then the data must reach the disk (zero-delay
    // durability timers in ManualHost): nothing is answered synchronously.
    expect(host.takeSent()).toEqual([]);
    expect(host.events.filter((e) => e.type === 'key.written')).toEqual([]);
    host.advance(0);
    const [reply] = host.takeSent();
    expect(reply?.body).toMatchObject({ type: 'kv.put_ok', key: 'a', value: 'x', acks: ['1'], replicas: ['1'] });
    expect(host.events.filter((e) => e.type === 'key.written')).toEqual([{ type: 'key.written', key: 'a', version: reply!.body.version, cause: 'write' }]);
    expect(host.storage.get<KvRecord>('kv/d/a')).toMatchObject({ value: 'x' });
  });

  it('serves replica reads only from durable data', () => {
    const host = ManualHost.start('1', ['1'], [kv({ n: 1, r: 1, w: 1 })]);
    host.advance(1);
    host.deliver('c', { type: 'kv.put', key: 'a', value: 'on-disk', msg_id: 1 });
    host.advance(0);
    const old = host.takeSent()[0]!.body.version as Version;
    const newer = { wall: old.wall + 5, logical: 0, node: '2' };
    host.deliver('2', { type: 'kv.replica_put', key: 'a', record: { value: 'in-flight', version: newer, seen: old }, cause: 'write', msg_id: 7 });
    host.deliver('2', { type: 'kv.replica_get', key: 'a', msg_id: 8 });
    expect(host.takeSent().map((m) => m.body)).toEqual([{ type: 'kv.replica_get_ok', key: 'a', record: expect.objectContaining({ value: 'on-disk', version: old }), in_reply_to: 8 }]);
    host.advance(0); // the disk write completes: acknowledged, and now readable
    host.deliver('2', { type: 'kv.replica_get', key: 'a', msg_id: 9 });
    expect(host.takeSent().map((m) => m.body)).toEqual([
      { type: 'kv.replica_put_ok', key: 'a', version: newer, in_reply_to: 7 },
      { type: 'kv.replica_get_ok', key: 'a', record: expect.objectContaining({ value: 'in-flight', version: newer }), in_reply_to: 9 },
    ]);
  });

  it('reports a version from a clock running far ahead', () => {
    const host = ManualHost.start('1', ['1', '2'], [kv({ n: 2, r: 1, w: 1, maxClockOffsetMs: 100 })]);
    host.advance(1000);
    const put = (wall: number, id: number) =>
      host.deliver('2', { type: 'kv.replica_put', key: 'a', record: { value: wall, version: { wall, logical: 0, node: '2' }, seen: { wall: 0, logical: 0, node: '' } }, cause: 'write', msg_id: id });
    put(1050, 1);
    put(5000, 2);
    expect(host.events.filter((e) => e.type === 'kv.clock_ahead')).toEqual([{ type: 'kv.clock_ahead', key: 'a', from: '2', version: { wall: 5000, logical: 0, node: '2' }, ahead_ms: 4000 }]);
  });

  it('an anti-entropy answer that cannot carry every differing bucket lists the empty ones it can, or sends a window of an oversized one', () => {
    const host = ManualHost.start('2', ['1', '2'], [kv({ n: 2, r: 1, w: 1, digestBuckets: 4, antiEntropyReplyChars: 1000 })]);
    host.advance(1000);
    // Two records of about 800 characters, in the same bucket: together they are over the budget.
    const sameBucket = Array.from({ length: 100 }, (_, i) => `big${i}`).filter((k) => bucketOf(k, 4) === bucketOf('big0', 4)).slice(0, 2);
    const version = { wall: 10, logical: 0, node: '1' };
    sameBucket.forEach((key, i) =>
      host.deliver('1', { type: 'kv.replica_put', key, record: { value: 'x'.repeat(800), version, seen: { wall: 0, logical: 0, node: '' } }, cause: 'write', msg_id: i + 1 }),
    );
    host.advance(1);
    const k = host.runtime.protocol<Kv>('kv') as any;
    const big = bucketOf('big0', 4);
    const empty = [0, 1, 2, 3].filter((b) => b !== big);
    const answers = Array.from({ length: 40 }, () => k.answerWithin(k.sharedWith('1', 1e12), [0, 1, 2, 3]));
    for (const a of answers) {
      const listed = [...a.buckets].sort();
      // Either the empty buckets that fit (the peer can push what this node lacks there), or one big record.
      if (a.records.length === 0) {
        expect(listed.length).toBeGreaterThan(0);
        expect(listed.every((b: number) => empty.includes(b))).toBe(true);
      } else expect(a).toMatchObject({ buckets: [], records: [[expect.any(String), expect.objectContaining({ value: 'x'.repeat(800) })]] });
      expect(listed).not.toContain(big);
    }
    expect(answers.some((a) => a.records.length === 1)).toBe(true);
    expect(answers.some((a) => a.records.length === 0)).toBe(true);
    // Over the rounds, each record of the oversized bucket is sent, and each empty bucket listed.
    expect(new Set(answers.flatMap((a) => a.records.map(([key]: [string]) => key)))).toEqual(new Set(sameBucket));
    expect(new Set(answers.flatMap((a) => a.buckets))).toEqual(new Set(empty));
  });

  it('reports status counts of keys, tombstones and hints', () => {
    const host = ManualHost.start('1', ['1'], [kv({ n: 1, r: 1, w: 1 })]);
    host.advance(1);
    host.deliver('c', { type: 'kv.put', key: 'a', value: 1, msg_id: 1 });
    host.deliver('c', { type: 'kv.put', key: 'b', value: 2, msg_id: 2 });
    host.advance(0);
    host.deliver('c', { type: 'kv.delete', key: 'b', msg_id: 3 });
    host.advance(0);
    const status = host.runtime.protocol<Kv>('kv')!.status();
    expect(status).toMatchObject({ mode: 'quorum', n: 1, r: 1, w: 1, keys: 1, tombstones: 1, hints: 0 });
    host.deliver('c', { type: 'kv.get', key: 'b', msg_id: 4 });
    host.advance(0);
    expect(host.takeSent().at(-1)?.body).toMatchObject({ type: 'error', code: ErrorCode.KeyDoesNotExist, in_reply_to: 4 });
  });

  it('refuses a linearizable configuration without intersecting quorums', () => {
    expect(() => ManualHost.start('1', ['1', '2', '3'], [kv({ mode: 'linearizable', r: 1, w: 2 })])).toThrow(/r \+ w > n/);
    expect(DEFAULT_KV_CONFIG).toMatchObject({ n: 3, r: 2, w: 2, mode: 'quorum' });
  });
});

describe('kv replication (test-net)', () => {
  it('places keys exactly as the sharding module does (so `distlab shard which` agrees)', () => {
    const net = cluster(5);
    const ring = partitioner('consistent', ['1', '2', '3', '4', '5']);
    for (let i = 0; i < 50; i++) expect(store(net, '4').preferenceList(`user_${i}`)).toEqual(ring.preferenceList(`user_${i}`, 3));
  });

  it('writes to the preference list and reads back, listing the acknowledging replicas', () => {
    const net = cluster(4);
    const key = keyOn(net, ['2', '3', '4']);
    const put = net.ask('1', { type: 'kv.put', key, value: 'v1' });
    expect(put).toMatchObject({ type: 'kv.put_ok', key, value: 'v1', replicas: ['2', '3', '4'], hinted: [] });
    expect((put.acks as string[]).length).toBeGreaterThanOrEqual(2);
    expect((put.acks as string[]).every((a) => ['2', '3', '4'].includes(a))).toBe(true);
    net.run(50);
    const get = net.ask('1', { type: 'kv.get', key });
    expect(get).toMatchObject({ type: 'kv.get_ok', key, value: 'v1', version: put.version, replicas: ['2', '3', '4'] });
    expect((get.from as string[]).length).toBeGreaterThanOrEqual(2);
    expect(store(net, '1').record(key)).toBeUndefined(); // not a replica
    for (const r of ['2', '3', '4']) expect(store(net, r).record(key)?.value).toBe('v1');
    expect(net.ask('3', { type: 'kv.get', key: 'never-written' })).toMatchObject({ type: 'error', code: ErrorCode.KeyDoesNotExist });
  });

  it('a write survives a crash and restart of a replica (it was durable when acknowledged)', () => {
    const net = cluster(3, { antiEntropyIntervalMs: 60_000, hintIntervalMs: 60_000 });
    const key = keyOn(net, ['1', '2', '3']);
    const put = net.ask('1', { type: 'kv.put', key, value: 'kept', w: 3 });
    expect(put.acks).toHaveLength(3);
    for (const id of ['1', '2', '3']) net.crash(id);
    for (const id of ['1', '2', '3']) net.restart(id);
    for (const id of ['1', '2', '3']) expect(store(net, id).record(key)?.value).toBe('kept');
    expect(net.ask('2', { type: 'kv.get', key })).toMatchObject({ value: 'kept', version: put.version });
  });

  it('acknowledges only durable writes: a crash before the disk write loses only an unacknowledged write', () => {
    const net = new TestNet(['1', '2', '3', '4'], () => [kv({ antiEntropyIntervalMs: 60_000, hintIntervalMs: 60_000 })], { diskDelayMs: 300 });
    const key = keyOn(net, ['2', '3', '4']);
    const call = net.request('1', { type: 'kv.put', key, value: 'volatile' });
    // Every replica holds the value in memory, and there was time to answer — but no disk write finished.
    const held = net.runUntil(() => ['2', '3', '4'].every((id) => store(net, id).record(key)?.value === 'volatile'), 2000);
    expect(held).toBeDefined();
    net.run(100);
    expect(call.reply).toBeUndefined();
    expect(net.eventsOf('key.written')).toEqual([]);
    for (const id of ['2', '3', '4']) net.crash(id);
    for (const id of ['2', '3', '4']) net.restart(id);
    net.runUntil(() => call.reply !== undefined, 5000);
    // The client is told the write may or may not have happened; in fact it is gone.
    expect(call.reply).toMatchObject({ type: 'error', error: 'quorum not met', definite: false });
    for (const id of ['2', '3', '4']) expect(store(net, id).record(key)).toBeUndefined();
    expect(net.ask('1', { type: 'kv.get', key })).toMatchObject({ type: 'error', code: ErrorCode.KeyDoesNotExist });
  });

  it('the minority side of a partition cannot write and says quorum not met, with needed/got/replicas', () => {
    const net = cluster(3);
    const key = keyOn(net, ['1', '2', '3']);
    net.run(10);
    net.partition(['1'], ['2', '3']);
    const failed = net.ask('1', { type: 'kv.put', key, value: 'minority' });
    expect(failed).toMatchObject({ type: 'error', error: 'quorum not met', needed: 2, got: 1, replicas: ['1', '2', '3'] });
    // It reached node 1's own disk: the write may surface later, so the error is indefinite.
    expect(isDefinite(failed.code as number)).toBe(false);
    expect(failed.definite).toBe(false);
    const read = net.ask('1', { type: 'kv.get', key });
    expect(read).toMatchObject({ type: 'error', code: ErrorCode.TemporarilyUnavailable, error: 'quorum not met', needed: 2, got: 1 });
    expect(net.ask('2', { type: 'kv.put', key, value: 'majority' })).toMatchObject({ type: 'kv.put_ok', acks: expect.arrayContaining(['2', '3']) });
  });

  it('fails definitely when the quorum is larger than the cluster (nothing sent)', () => {
    const net = cluster(2, { n: 3, r: 2, w: 2 });
    const reply = net.ask('1', { type: 'kv.put', key: 'a', value: 1, w: 3 });
    expect(reply).toMatchObject({ type: 'error', code: ErrorCode.TemporarilyUnavailable, needed: 3, got: 0, definite: true, replicas: expect.any(Array) });
    expect(net.eventsOf('key.written')).toEqual([]);
  });

  it('answers within the request timeout when replicas are silent', () => {
    const net = cluster(3, { requestTimeoutMs: 400, replicaTimeoutMs: 10_000 });
    const key = keyOn(net, ['1', '2', '3']);
    net.run(10);
    net.partition(['1'], ['2', '3']);
    const call = net.request('1', { type: 'kv.put', key, value: 1 });
    net.runUntil(() => call.reply !== undefined, 5000);
    expect(call.reply).toMatchObject({ type: 'error', code: ErrorCode.Timeout, error: 'quorum not met', got: 1, needed: 2 });
    expect(call.repliedAt! - call.sentAt).toBeLessThanOrEqual(400 + 10);
  });

  it('read repair brings a stale replica up to date', () => {
    const net = cluster(3, { antiEntropyIntervalMs: 60_000, hintIntervalMs: 60_000 });
    const key = keyOn(net, ['1', '2', '3']);
    net.ask('1', { type: 'kv.put', key, value: 'old', w: 3 });
    net.partition(['1', '2'], ['3']);
    const put = net.ask('1', { type: 'kv.put', key, value: 'new' });
    net.heal();
    expect(store(net, '3').record(key)?.value).toBe('old');
    const get = net.ask('1', { type: 'kv.get', key, r: 3 });
    expect(get).toMatchObject({ value: 'new', version: put.version });
    net.run(100);
    expect(store(net, '3').record(key)?.value).toBe('new');
    expect(net.eventsOf('kv.read_repair')).toEqual([expect.objectContaining({ key, replicas: ['3'], version: put.version })]);
  });

  it('linearizable reads write back what they return, so a later read never sees older; quorum reads can', () => {
    const seen: Record<string, unknown[]> = {};
    for (const mode of ['quorum', 'linearizable'] as const) {
      const net = cluster(3, { mode, antiEntropyIntervalMs: 60_000, hintIntervalMs: 60_000 });
      const key = keyOn(net, ['1', '2', '3']);
      expect(net.ask('2', { type: 'kv.put', key, value: 'old', w: 3 })).toMatchObject({ type: 'kv.put_ok' });
      // A write that reaches only node 1 (its coordinator): indefinite.
      net.drop = (m) => m.body.type === 'kv.replica_put' && m.src === '1';
      expect(net.ask('1', { type: 'kv.put', key, value: 'new' })).toMatchObject({ type: 'error', code: ErrorCode.Timeout, got: 1 });
      // Read 1 hears from nodes 1 and 2 and returns 'new'; its repair or write-back cannot reach node 2.
      net.drop = (m) => (m.body.type === 'kv.replica_get' && m.dest === '3') || (m.body.type === 'kv.replica_put' && m.dest === '2');
      const first = net.ask('1', { type: 'kv.get', key });
      expect(first).toMatchObject({ type: 'kv.get_ok', value: 'new' });
      // Read 2, strictly later, from the other side: nodes 2 and 3.
      net.partition(['1'], ['2', '3']);
      const second = net.ask('2', { type: 'kv.get', key });
      seen[mode] = [first.value, second.value];
    }
    expect(seen.quorum).toEqual(['new', 'old']); // not linearizable: the value went back in time
    expect(seen.linearizable).toEqual(['new', 'new']);
  });

  it('resolves concurrent writes deterministically (last writer wins) and reports the loser', () => {
    for (const seed of [1, 2, 3]) {
      const net = cluster(3, {}, seed);
      const key = keyOn(net, ['1', '2', '3']);
      net.run(10);
      const a = net.request('1', { type: 'kv.put', key, value: 'from-1' });
      const b = net.request('3', { type: 'kv.put', key, value: 'from-3' }, 'c2');
      net.runUntil(() => a.reply !== undefined && b.reply !== undefined, 5000);
      expect(a.reply).toMatchObject({ type: 'kv.put_ok' });
      expect(b.reply).toMatchObject({ type: 'kv.put_ok' });
      net.run(3000); // anti-entropy settles every replica
      const va = a.reply!.version as Version;
      const vb = b.reply!.version as Version;
      const winner = compareVersions(va, vb) > 0 ? 'from-1' : 'from-3';
      for (const id of ['1', '2', '3']) expect(store(net, id).record(key)?.value).toBe(winner);
      const conflicts = net.eventsOf('kv.conflict');
      expect(conflicts.length).toBeGreaterThan(0);
      for (const c of conflicts) expect((c.loser as { value: string }).value).not.toBe(winner);
    }
  });

  it('a write that names the version it read (context) replaces it without a conflict; a blind overwrite is reported', () => {
    const net = cluster(4);
    const key = keyOn(net, ['2', '3', '4']);
    const first = net.ask('1', { type: 'kv.put', key, value: 'a' });
    const read = net.ask('1', { type: 'kv.get', key });
    const informed = net.ask('1', { type: 'kv.put', key, value: 'b', context: read.version });
    expect(informed).toMatchObject({ type: 'kv.put_ok' });
    expect(informed.conflicts).toBeUndefined();
    expect(net.eventsOf('kv.conflict')).toEqual([]);
    const blind = net.ask('1', { type: 'kv.put', key, value: 'c' });
    expect(blind.conflicts).toEqual([expect.objectContaining({ value: 'b', version: informed.version })]);
    expect(net.eventsOf('kv.conflict').length).toBeGreaterThan(0);
    expect(compareVersions(informed.version as Version, first.version as Version)).toBe(1);
    expect(net.ask('1', { type: 'kv.put', key, value: 'd', context: 'yesterday' })).toMatchObject({ type: 'error', code: ErrorCode.MalformedRequest });
  });

  it('hinted handoff: a write for a down replica is held by the next node and delivered when it returns', () => {
    const net = cluster(4, { antiEntropyIntervalMs: 60_000, hintIntervalMs: 200 });
    const key = keyOn(net, ['1', '2', '3']);
    net.run(10);
    net.crash('3');
    const put = net.ask('1', { type: 'kv.put', key, value: 'hinted' });
    expect(put).toMatchObject({ type: 'kv.put_ok', acks: expect.arrayContaining(['1', '2']) });
    net.run(1000);
    expect(net.eventsOf('kv.hint_stored')).toEqual([expect.objectContaining({ node: '4', key, owner: '3' })]);
    expect(store(net, '4').status().hints).toBe(1);
    expect(store(net, '4').record(key)).toBeUndefined(); // a hint is not the holder's own data
    net.restart('3');
    expect(store(net, '3').record(key)).toBeUndefined();
    net.run(1000);
    expect(store(net, '3').record(key)?.value).toBe('hinted');
    expect(net.eventsOf('kv.hint_delivered')).toEqual([expect.objectContaining({ node: '4', key, owner: '3' })]);
    expect(store(net, '4').status().hints).toBe(0);
  });

  it('sloppy quorum counts hinted writes towards W; a strict quorum does not', () => {
    for (const sloppy of [false, true]) {
      const net = cluster(4, { sloppy, antiEntropyIntervalMs: 60_000 });
      const key = keyOn(net, ['1', '2', '3']);
      net.run(10);
      net.crash('2');
      net.crash('3');
      const reply = net.ask('1', { type: 'kv.put', key, value: 'x' });
      if (sloppy) expect(reply).toMatchObject({ type: 'kv.put_ok', acks: ['1'], hinted: [expect.objectContaining({ holder: '4' })] });
      else expect(reply).toMatchObject({ type: 'error', error: 'quorum not met', got: 1, definite: false });
    }
  });

  it('anti-entropy repairs a replica that missed writes, with no client traffic', () => {
    const net = cluster(3, { antiEntropyIntervalMs: 300, hintIntervalMs: 60_000 });
    const keys = Array.from({ length: 20 }, (_, i) => `key${i}`);
    net.run(10);
    net.crash('3');
    for (const key of keys) expect(net.ask('1', { type: 'kv.put', key, value: key.toUpperCase() })).toMatchObject({ type: 'kv.put_ok' });
    net.restart('3');
    const missing = keys.filter((k) => store(net, '3').preferenceList(k).includes('3'));
    expect(missing.length).toBe(keys.length); // N = 3 of 3 nodes: node 3 holds every key
    expect(missing.every((k) => store(net, '3').record(k) === undefined)).toBe(true);
    net.run(5000);
    for (const key of missing) expect(store(net, '3').record(key)?.value).toBe(key.toUpperCase());
    const repaired = net.eventsOf('kv.repaired').filter((e) => e.to === '3');
    expect(new Set(repaired.map((e) => e.key))).toEqual(new Set(missing));
    expect(store(net, '3').status().lastAntiEntropy).not.toBeNull();
  });

  it.each([
    ['whole buckets', 64],
    ['windows of one bucket too large for an answer', 1],
  ])('anti-entropy catches up a wiped replica in answers of bounded size, over several rounds (%s)', (_, digestBuckets) => {
    const budget = 3_000;
    // Characters of records sent by one node in one round: an answer, or the pushes that follow one.
    const answers: number[] = [];
    const pushes = new Map<string, number>();
    const net = new TestNet(['1', '2', '3'], () => [kv({ antiEntropyIntervalMs: 200, hintIntervalMs: 60_000, antiEntropyReplyChars: budget, digestBuckets })], {
      seed: 5,
      route: (msg, net) => {
        if (msg.body.type === 'kv.ae_digest_ok') answers.push(JSON.stringify(msg.body.records).length);
        if (msg.body.type === 'kv.replica_put' && msg.body.cause === 'anti_entropy') {
          const round = `${msg.src}@${net.now}`;
          pushes.set(round, (pushes.get(round) ?? 0) + JSON.stringify(msg.body.record).length);
        }
        return [1];
      },
    });
    const keys = Array.from({ length: 200 }, (_, i) => `key${i}`);
    const value = (key: string) => `${key}:${'v'.repeat(40)}`;
    net.run(10);
    for (const key of keys) expect(net.ask('1', { type: 'kv.put', key, value: value(key) })).toMatchObject({ type: 'kv.put_ok' });
    net.run(3000);
    expect(keys.every((k) => store(net, '3').record(k)?.value === value(k))).toBe(true);
    net.crash('3');
    net.restart('3', { wipe: true });
    answers.length = 0;
    pushes.clear();
    const took = net.runUntil(() => keys.every((k) => store(net, '3').record(k)?.value === value(k)), 120_000);
    expect(took, 'node 3 to hold every key again').toBeDefined();
    // One record is about 130 characters: an answer may pass the budget by one record at most.
    const rounds = [...answers, ...pushes.values()];
    expect(Math.max(...rounds)).toBeLessThanOrEqual(budget + 200);
    expect(rounds.filter((chars) => chars > 1_000).length).toBeGreaterThan(3);
  });

  it('anti-entropy leaves writes younger than antiEntropySettleMs alone, then repairs them', () => {
    const net = cluster(3, { antiEntropyIntervalMs: 200, antiEntropySettleMs: 3000, hintIntervalMs: 60_000 });
    const keys = Array.from({ length: 10 }, (_, i) => `key${i}`);
    net.run(10);
    net.crash('3');
    for (const key of keys) expect(net.ask('1', { type: 'kv.put', key, value: key })).toMatchObject({ type: 'kv.put_ok' });
    net.restart('3');
    net.run(1500); // several rounds, all within the settling time of the writes
    expect(net.eventsOf('kv.repaired').filter((e) => e.to === '3')).toEqual([]);
    expect(keys.every((k) => store(net, '3').record(k) === undefined)).toBe(true);
    net.run(5000);
    for (const key of keys) expect(store(net, '3').record(key)?.value).toBe(key);
  });

  it('moves keys to their new owners when a node joins, and away from a node that leaves; nothing is lost', () => {
    const net = cluster(3, { antiEntropyIntervalMs: 200 });
    const keys = Array.from({ length: 40 }, (_, i) => `user_${i}`);
    net.run(10);
    for (const key of keys) net.ask(String((keys.indexOf(key) % 3) + 1), { type: 'kv.put', key, value: key });
    net.add('4');
    net.members = ['1', '2', '3', '4'];
    net.run(5000);
    const holders = (key: string) => ['1', '2', '3', '4'].filter((id) => store(net, id).record(key) !== undefined);
    for (const key of keys) expect(holders(key).sort()).toEqual(store(net, '1').preferenceList(key).sort());
    expect(keys.some((k) => store(net, '4').record(k) !== undefined)).toBe(true);
    expect(net.eventsOf('kv.handed_off').length).toBeGreaterThan(0);
    // Node 1 leaves: the others take over its keys.
    net.members = ['2', '3', '4'];
    net.run(5000);
    for (const key of keys) {
      expect(net.ask('2', { type: 'kv.get', key })).toMatchObject({ type: 'kv.get_ok', value: key });
      for (const id of store(net, '2').preferenceList(key)) expect(store(net, id).record(key)?.value).toBe(key);
    }
  });

  it('after a restart, issues versions above any it issued before the crash', () => {
    const net = cluster(3, { clockLeaseMs: 500 });
    const key = keyOn(net, ['1', '2', '3']);
    const first = net.ask('1', { type: 'kv.put', key, value: 'a' });
    net.crash('1');
    net.restart('1');
    const second = net.ask('1', { type: 'kv.put', key, value: 'b' });
    expect(second).toMatchObject({ type: 'kv.put_ok' });
    expect(compareVersions(second.version as Version, first.version as Version)).toBe(1);
    expect((second.version as Version).wall).toBeGreaterThan((first.version as Version).wall);
    expect(net.ask('2', { type: 'kv.get', key })).toMatchObject({ value: 'b' });
  });
});
