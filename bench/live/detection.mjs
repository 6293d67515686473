#!/usr/bin/env node
/**
 * Failure detection and re-election on a live 5-node loopback cluster.
 *
 *     npm run build && node bench/live/detection.mjs [runs=5]
 *
 * Each run SIGKILLs the leader (node 5) and measures, from the kill, how long
 * until (a) every survivor follows a new leader (bully: node 4) and (b) every
 * survivor's SWIM view declares node 5 dead; then restarts node 5 and waits
 * until it leads again and is alive in every view. Prints each run and the
 * medians. Polls every 20 ms, so figures are ±20 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../../dist/cli/local-cluster.js';

const runs = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'distlab-bench-'));
const cliPath = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));
const cluster = await LocalCluster.start({ nodes: 5, basePort: 0, rosterPath: join(dir, 'roster.yaml'), cliPath, nodeArgs: ['--log-level', 'warn'], stdio: 'pipe' });
const url = (id) => cluster.node(id).url;
const survivors = ['1', '2', '3', '4'];
const all = [...survivors, '5'];

async function get(u) {
  try {
    const res = await fetch(u, { signal: AbortSignal.timeout(1000) });
    return await res.json();
  } catch {
    return undefined;
  }
}
const leaders = (ids) => Promise.all(ids.map((id) => get(`${url(id)}/`).then((b) => b?.leader_id)));
const swimOf = (ids, member) => Promise.all(ids.map((id) => get(`${url(id)}/status/swim`).then((b) => b?.members?.find((m) => m.node_id === member)?.state)));
async function until(cond, what, ms = 20_000) {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const elected = [];
const detected = [];
try {
  await until(async () => (await leaders(all)).every((l) => l === 5), 'leader 5 at start');
  for (let run = 1; run <= runs; run++) {
    const killedAt = performance.now();
    await cluster.kill('5');
    let e;
    let d;
    await until(async () => {
      if (e === undefined && (await leaders(survivors)).every((l) => l === 4)) e = performance.now() - killedAt;
      if (d === undefined && (await swimOf(survivors, '5')).every((s) => s === 'dead')) d = performance.now() - killedAt;
      return e !== undefined && d !== undefined;
    }, 're-election and detection');
    elected.push(e);
    detected.push(d);
    console.log(`run ${run}: new leader on every survivor after ${e.toFixed(0)} ms; node 5 dead in every SWIM view after ${d.toFixed(0)} ms`);
    await cluster.restart('5');
    await until(async () => (await leaders(all)).every((l) => l === 5) && (await swimOf(all, '5')).every((s) => s === 'alive'), 'node 5 back');
  }
  console.log(`\n${runs} runs, 5 nodes on loopback: re-election median ${median(elected).toFixed(0)} ms (max ${Math.max(...elected).toFixed(0)}); SWIM detection median ${median(detected).toFixed(0)} ms (max ${Math.max(...detected).toFixed(0)})`);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
