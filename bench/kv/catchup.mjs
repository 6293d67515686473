#!/usr/bin/env node
/**
 * How long a replica whose disk was wiped takes to hold its keys again, by
 * anti-entropy alone (no client traffic after the restart).
 *
 *   npm run build && node bench/kv/catchup.mjs [--keys 30000] [--value-bytes 100] [--limit 90]
 *
 * Starts a local 3-node cluster on disk (N=3: every node holds every key),
 * writes `--keys` keys with w=3, kills node 3 (SIGKILL), deletes its data
 * directory, restarts it and prints, each second, how many keys it holds,
 * until it holds them all or `--limit` seconds have passed. Exit 1 if it
 * did not catch up in time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../../dist/cli/local-cluster.js';
import { CLI_PATH } from '../lib/processes.mjs';

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '30000' },
    'value-bytes': { type: 'string', default: '100' },
    limit: { type: 'string', default: '90' },
  },
});
const keys = Number(opts.keys);
const value = 'v'.repeat(Number(opts['value-bytes']));
const dir = mkdtempSync(join(tmpdir(), 'distlab-catchup-'));
const cluster = await LocalCluster.start({
  nodes: 3,
  basePort: 0,
  cliPath: CLI_PATH,
  rosterPath: join(dir, 'roster.yaml'),
  stdio: 'pipe',
  nodeArgs: (id) => ['--log-level', 'warn', '--data-dir', join(dir, id)],
});
const held = async (id) => {
  try {
    const res = await fetch(`${cluster.node(id).url}/status/kv`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()).keys;
  } catch (err) {
    return `no answer (${err.message})`;
  }
};
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);
let caughtUp = false;
try {
  let next = 0;
  const writer = async () => {
    while (next < keys) {
      const i = next++;
      // A fresh cluster may answer 503 once in a while (its 1 s request timeout): try again, a few times.
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${cluster.nodes[i % 3].url}/data?w=3`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: `k${i}`, value }) });
        await res.arrayBuffer();
        if (res.status === 200) break;
        if (attempt === 5) throw new Error(`writing k${i}: ${res.status} five times`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 32 }, writer));
  console.log(`wrote ${keys} keys of ${value.length} bytes with w=3 in ${seconds(t0)} s; nodes hold ${await held('1')}, ${await held('2')}, ${await held('3')}`);

  await cluster.kill('3');
  rmSync(join(dir, '3'), { recursive: true, force: true });
  const t1 = performance.now();
  await cluster.restart('3');
  let last;
  for (;;) {
    const count = await held('3');
    if (count !== last) console.log(`${seconds(t1)} s after the restart: node 3 holds ${count}`);
    last = count;
    if (count === keys) {
      caughtUp = true;
      break;
    }
    if (performance.now() - t1 > Number(opts.limit) * 1000) {
      console.log(`${seconds(t1)} s: gave up; node 3 holds ${count} of ${keys}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = caughtUp ? 0 : 1;
