#!/usr/bin/env node
/**
 * CPU cost of the key-value store's per-key work, in process (no network):
 * the ring's preference-list lookup, and one anti-entropy round on each side.
 *
 *   npx tsc -p . && node bench/kv/antientropy.mjs [--keys 8000] [--nodes 3] [--runs 15]
 *
 * Builds one runtime per node on a minimal in-memory host (synchronous
 * storage, timers that never fire, a seeded random source), and gives every
 * node the same `--keys` records through ordinary `kv.replica_put` messages,
 * all older than the settling time. Then it times, as the median and the
 * minimum of `--runs` runs:
 *
 * - `preferenceList`: one ring lookup, n = 3 (replicas) and n = 6 (replicas
 *   plus hint fallbacks), averaged over the keys;
 * - `round`: node 1 starting a round (hand-offs, choosing a peer, digest);
 * - `onDigest (equal)`: the peer answering that digest — the steady state,
 *   where every bucket matches and no record travels;
 * - `onDigest (all differ)`: the peer answering a digest of zeros — every
 *   bucket differs and the peer sends every shared record;
 * - `reconcile (equal)`: node 1 handling the peer's answer to its digest.
 *
 * It prints figures only: compare two builds by running it on each.
 */
import { parseArgs } from 'node:util';
import { MemoryStorage, NodeRuntime } from '../../dist/protocols/runtime.js';
import { kv } from '../../dist/protocols/kv.js';
import { ConsistentHashRing, sampleKeys, numberedNodes } from '../../dist/protocols/sharding.js';

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '8000' },
    nodes: { type: 'string', default: '3' },
    runs: { type: 'string', default: '15' },
  },
});
const keyCount = Number(opts.keys);
const nodeCount = Number(opts.nodes);
const runs = Number(opts.runs);
for (const [name, v] of [['keys', keyCount], ['nodes', nodeCount], ['runs', runs]]) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

/** Enough of a host for a runtime: messages are collected, timers never fire. */
class BenchHost {
  constructor(id, members) {
    this.id = id;
    this.cluster = members;
    this.storage = new MemoryStorage();
    this.sent = [];
    this.clock = 100_000;
    this.seed = Number(id);
    this.nextTimer = 1;
  }
  members() {
    return this.cluster;
  }
  now() {
    return this.clock;
  }
  random() {
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  transmit(msg) {
    this.sent.push(msg);
  }
  setTimer() {
    return this.nextTimer++;
  }
  clearTimer() {}
  emit() {}
}

/** Median and minimum of samples (the minimum is the figure least disturbed by other processes). */
const summary = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1], min: sorted[0] };
};
const time = (fn) => {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return summary(samples);
};
const fmt = ({ median, min }) => `${median.toFixed(3)} ms (min ${min.toFixed(3)})`;

const members = numberedNodes(nodeCount);
const keys = sampleKeys(keyCount, 'bench-');
const nodes = new Map(
  members.map((id) => {
    const host = new BenchHost(id, members);
    const runtime = new NodeRuntime(host, [kv()]);
    runtime.start();
    return [id, { host, runtime, kv: runtime.protocol('kv') }];
  }),
);

// Every node stores every key (what it does not own, a round hands off).
keys.forEach((key, i) => {
  const version = { wall: 50_000 + (i % 1000), logical: 0, node: '1' };
  const record = { value: 'v'.repeat(100), version, seen: version };
  for (const { runtime } of nodes.values()) {
    runtime.deliver({ src: 'client', dest: runtime.id, body: { type: 'kv.replica_put', key, record, cause: 'write' } });
  }
});
for (const { host } of nodes.values()) host.sent.length = 0;

// preferenceList, per call.
const ring = new ConsistentHashRing(members);
const perCall = (n) => {
  const { median, min } = time(() => {
    for (const key of keys) ring.preferenceList(key, n);
  });
  return `${((median / keys.length) * 1e6).toFixed(0)} ns/call (min ${((min / keys.length) * 1e6).toFixed(0)})`;
};

const one = nodes.get('1');
const round = () => {
  one.kv.antiEntropyRound();
  const digestMsg = one.host.sent.find((m) => m.body.type === 'kv.ae_digest');
  one.host.sent.length = 0;
  return digestMsg;
};
const roundMs = time(round);

// The peer's side, with the digest node 1 really sends (matching buckets).
const digestMsg = round();
/** The reply to `msg`, a digest node 1 sent, from the node it was sent to. */
const answer = (msg) => {
  const peer = nodes.get(msg.dest);
  peer.runtime.deliver({ src: '1', dest: msg.dest, body: msg.body });
  const reply = peer.host.sent.pop();
  peer.host.sent.length = 0;
  return reply;
};
const equalMs = time(() => answer(digestMsg));
const zeros = { ...digestMsg, body: { ...digestMsg.body, buckets: digestMsg.body.buckets.map(() => 0) } };
let shipped = 0;
const differMs = time(() => (shipped = answer(zeros).body.records.length));

// Node 1 handling the answer: each run starts a round (untimed) so that a
// reply is awaited, has the chosen peer answer it (untimed), and times the delivery.
const reconcileSamples = [];
for (let i = 0; i < runs; i++) {
  const reply = answer(round());
  const t0 = performance.now();
  one.runtime.deliver(reply);
  reconcileSamples.push(performance.now() - t0);
}
const reconcileMs = summary(reconcileSamples);

console.log(`kv anti-entropy micro-benchmark: ${keyCount} keys on each of ${nodeCount} nodes, median (and min) of ${runs} runs (node ${process.version})`);
console.log(`  preferenceList n=3         ${perCall(3)}`);
console.log(`  preferenceList n=6         ${perCall(6)}`);
console.log(`  round (initiator)          ${fmt(roundMs)}`);
console.log(`  onDigest, buckets equal    ${fmt(equalMs)}`);
console.log(`  onDigest, all differ       ${fmt(differMs)}  (${shipped} records in the answer)`);
console.log(`  reconcile, buckets equal   ${fmt(reconcileMs)}`);
