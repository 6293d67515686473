#!/usr/bin/env node
/**
 * Quorum-write latency of the replicated /data at a fixed offered rate.
 *
 *   npm run build && node bench/kv/latency.mjs [--rate 1000] [--seconds 20] [--nodes 3] [--w 2] [--memory]
 *
 * Starts a local cluster (built CLI, fresh SQLite data directories in a temp
 * dir unless --memory), then sends POST /data {key, value} open-loop: every
 * millisecond tick it sends the requests the schedule says are due,
 * round-robin over the nodes, whatever the answers do — so a slow answer
 * cannot slow the offered load down (no coordinated omission). Latency is
 * measured from the scheduled send time to the end of the answer. Keys are
 * fresh (bench-<n>), values 100 bytes. Prints p50/p90/p99/p99.9/max, the
 * achieved rate and the errors. The first second is a warm-up, not counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { LocalCluster } from '../../dist/cli/local-cluster.js';
import { CLI_PATH } from '../lib/processes.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    nodes: { type: 'string', default: '3' },
    w: { type: 'string', default: '2' },
    memory: { type: 'boolean', default: false },
  },
});
const rate = Number(opts.rate);
const seconds = Number(opts.seconds);
const warmupMs = 1000;
const dir = mkdtempSync(join(tmpdir(), 'distlab-kvbench-'));
const cluster = await LocalCluster.start({
  nodes: Number(opts.nodes),
  basePort: 0,
  cliPath: CLI_PATH,
  rosterPath: join(dir, 'roster.yaml'),
  stdio: 'pipe',
  nodeArgs: (id) => ['--log-level', 'warn', ...(opts.memory ? [] : ['--data-dir', join(dir, id)])],
});
const agent = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 10_000 });
const urls = cluster.nodes.map((n) => `${n.url}/data?w=${opts.w}`);
const value = 'v'.repeat(100);
const latencies = [];
const errors = new Map();
let sent = 0;
let inFlight = 0;
let maxInFlight = 0;

const send = (i, scheduled) => {
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  request(urls[i % urls.length], {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: `bench-${i}`, value }),
  })
    .then(async (res) => {
      await res.body.dump();
      const ms = performance.now() - scheduled;
      if (scheduled - start >= warmupMs) {
        if (res.statusCode === 200) latencies.push(ms);
        else errors.set(res.statusCode, (errors.get(res.statusCode) ?? 0) + 1);
      }
    })
    .catch((err) => errors.set(err.code ?? err.message, (errors.get(err.code ?? err.message) ?? 0) + 1))
    .finally(() => inFlight--);
};

const start = performance.now();
const end = start + warmupMs + seconds * 1000;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    const due = Math.min(Math.floor(((Math.min(now, end) - start) * rate) / 1000), Math.floor(((end - start) * rate) / 1000));
    while (sent < due) {
      send(sent, start + (sent * 1000) / rate);
      sent++;
    }
    if (now >= end) resolve();
    else setTimeout(tick, 1);
  };
  tick();
});
while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(2);
console.log(`quorum writes: ${opts.nodes} nodes, N=3 W=${opts.w}, ${opts.memory ? 'memory' : 'SQLite (WAL, synchronous=FULL, group commit)'}, offered ${rate}/s for ${seconds}s (after ${warmupMs / 1000}s warm-up)`);
console.log(`ok ${latencies.length} (${(latencies.length / seconds).toFixed(0)}/s), errors ${[...errors].map(([k, v]) => `${k}:${v}`).join(' ') || 'none'}, max in flight ${maxInFlight}`);
console.log(`latency ms: p50 ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  p99.9 ${q(0.999)}  max ${latencies.at(-1)?.toFixed(2)}`);
await agent.close();
await cluster.stop();
rmSync(dir, { recursive: true, force: true });
