#!/usr/bin/env node
/**
 * Quorum-write latency of the replicated /data at a fixed offered rate.
 *
 *   npm run build && node bench/kv/latency.mjs [--rate 1000] [--seconds 20] [--warmup 5] [--nodes 3] [--w 2] [--memory]
 *
 * Starts a local cluster (built CLI, fresh SQLite data directories in a temp
 * dir unless --memory), then sends POST /data {key, value} open-loop
 * (bench/lib/open-loop.mjs), round-robin over the nodes: each request at its
 * due time whatever the answers do, latency measured from the due time. Keys
 * are fresh (bench-<n>), values 100 bytes. The first `--warmup` seconds run
 * the same load but are not counted (V8 is still compiling the nodes' hot
 * paths); the per-second line shows them. Prints p50/p90/p99/p99.9/max, the
 * achieved rate and the errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../../dist/cli/local-cluster.js';
import { openLoop } from '../lib/open-loop.mjs';
import { CLI_PATH } from '../lib/processes.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    nodes: { type: 'string', default: '3' },
    w: { type: 'string', default: '2' },
    memory: { type: 'boolean', default: false },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'distlab-kvbench-'));
const cluster = await LocalCluster.start({
  nodes: Number(opts.nodes),
  basePort: 0,
  cliPath: CLI_PATH,
  rosterPath: join(dir, 'roster.yaml'),
  stdio: 'pipe',
  nodeArgs: (id) => ['--log-level', 'warn', ...(opts.memory ? [] : ['--data-dir', join(dir, id)])],
});
try {
  const urls = cluster.nodes.map((n) => `${n.url}/data?w=${opts.w}`);
  const value = 'v'.repeat(100);
  const r = await openLoop({
    request: (i) => ({ url: urls[i % urls.length], body: { key: `bench-${i}`, value } }),
    rate: Number(opts.rate),
    seconds: Number(opts.seconds),
    warmupS: Number(opts.warmup),
  });
  const ms = (x) => (x === undefined ? '-' : x.toFixed(2));
  const store = opts.memory ? 'memory' : 'SQLite (WAL, synchronous=FULL, group commit)';
  console.log(`quorum writes: ${opts.nodes} nodes, N=3 W=${opts.w}, ${store}, offered ${r.rate}/s for ${r.seconds}s after a ${r.warmupS}s warm-up`);
  console.log(`per second, p50/p99 ms: ${r.perSecond.map((s, i) => `${i < r.warmupS ? '(w)' : ''}${ms(s.p50Ms)}/${ms(s.p99Ms)}`).join(' ')}`);
  const errors = Object.entries(r.errors).map(([k, v]) => `${k}:${v}`).join(' ') || 'none';
  console.log(`ok ${r.ok} (${(r.ok / r.seconds).toFixed(0)}/s), errors ${errors}, max in flight ${r.maxInFlight}`);
  console.log(`latency ms: p50 ${ms(r.p50Ms)}  p90 ${ms(r.p90Ms)}  p99 ${ms(r.p99Ms)}  p99.9 ${ms(r.p999Ms)}  max ${ms(r.maxMs)}`);
  console.log(`(of which the generator sending late: p50 ${ms(r.lateness.p50Ms)}  p99 ${ms(r.lateness.p99Ms)})`);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
