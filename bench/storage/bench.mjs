#!/usr/bin/env node
/**
 * Which embedded store should hold a distlab node's data? (issue 4, "Durability")
 *
 * Every engine is driven the way the replicated store will use it: a write is
 * acknowledged only once it is durable (committed and fsynced), and reads
 * come from the same process. For each engine this measures:
 *
 *   serial   one write at a time: the cost of a single durable write
 *   offered  an open loop at --rate writes/s for --seconds: ack latency
 *            (from the moment each write was due, so a stalled loop counts),
 *            and how long the event loop was blocked (it also serves HTTP)
 *   max      --concurrency writes in flight for --max-seconds: throughput
 *            (async engines commit a whole batch with one fsync: group commit)
 *   reads    point reads of random written keys
 *   crash    a child process writes and reports each ack; it is killed with
 *            SIGKILL mid-stream; the store is reopened and every acknowledged
 *            key must be there with its value (--crash-rounds times, same store)
 *
 * The engines are not dependencies of distlab: install them elsewhere and
 * point --modules at that directory (see README.md next to this file).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    modules: { type: 'string', default: '/tmp/storage-bench' },
    data: { type: 'string', default: tmpdir() },
    engines: { type: 'string', default: 'append-log,sqlite,sqlite-group,lmdb,lmdb-overlap,level' },
    repeat: { type: 'string', default: '1' },
    phases: { type: 'string', default: 'serial,offered,max,reads,crash' },
    'serial-writes': { type: 'string', default: '300' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    'max-seconds': { type: 'string', default: '3' },
    reads: { type: 'string', default: '20000' },
    'value-bytes': { type: 'string', default: '100' },
    'crash-rounds': { type: 'string', default: '3' },
    'crash-after-ms': { type: 'string', default: '700' },
    json: { type: 'boolean', default: false },
    // internal: run as the writer child of the crash test
    'child-writer': { type: 'string' },
    'key-prefix': { type: 'string', default: 'c' },
  },
});

const num = (name) => {
  const n = Number(opts[name]);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive number, got '${opts[name]}'`);
    process.exit(2);
  }
  return n;
};

const require = createRequire(join(opts.modules, 'package.json'));
const VALUE = 'v'.repeat(num('value-bytes'));

// ---------------------------------------------------------------------------
// Engines: open(dir) -> { put(key, value): Promise (resolves when durable), get(key), close() }

const engines = {
  /**
   * The floor: a hand-written append-only log, one fdatasync per write, the
   * index in memory (rebuilt from the log on open). Every engine below pays
   * at least this per acknowledged write unless it groups commits.
   */
  'append-log': {
    describe: 'baseline: append a line to a log file + fdatasync per write, index in memory',
    open(dir) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'log.txt');
      const index = new Map();
      if (existsSync(file)) {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const tab = line.indexOf('\t');
          if (tab > 0) index.set(line.slice(0, tab), line.slice(tab + 1));
        }
      }
      const fd = openSync(file, 'a');
      return {
        put(key, value) {
          writeSync(fd, `${key}\t${value}\n`);
          fdatasyncSync(fd);
          index.set(key, value);
          return Promise.resolve();
        },
        get: (key) => index.get(key),
        close: () => closeSync(fd),
      };
    },
  },
  /** better-sqlite3, WAL, synchronous=FULL: every write is its own transaction, fsynced at commit. */
  sqlite: {
    describe: 'better-sqlite3, WAL + synchronous=FULL, one transaction (one fsync) per write',
    open(dir) {
      const db = openSqlite(dir);
      return {
        put(key, value) {
          db.put.run(key, value);
          return Promise.resolve();
        },
        get: (key) => db.get.get(key),
        close: () => db.close(),
      };
    },
  },
  /** better-sqlite3 with hand-made group commit: writes arriving in one event-loop turn share a transaction. */
  'sqlite-group': {
    describe: 'better-sqlite3, WAL + synchronous=FULL, writes of one event-loop turn share one transaction',
    open(dir) {
      const db = openSqlite(dir);
      let queue = [];
      const commitAll = db.db.transaction((batch) => {
        for (const w of batch) db.put.run(w.key, w.value);
      });
      const flush = () => {
        const batch = queue;
        queue = [];
        try {
          commitAll(batch);
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      };
      return {
        put(key, value) {
          return new Promise((resolve, reject) => {
            if (queue.length === 0) setImmediate(flush);
            queue.push({ key, value, resolve, reject });
          });
        },
        get: (key) => db.get.get(key),
        close: () => db.close(),
      };
    },
  },
  /** lmdb-js with overlappingSync off: the put promise resolves after the (batched) commit, which syncs. */
  lmdb: {
    describe: 'lmdb-js, overlappingSync=false: put resolves after the batched commit has synced',
    open(dir) {
      const { open } = require('lmdb');
      const db = open({ path: dir, encoding: 'string', compression: false, overlappingSync: false });
      return { put: (key, value) => db.put(key, value), get: (key) => db.get(key), close: () => db.close() };
    },
  },
  /** lmdb-js default on Linux (overlappingSync): wait for the separate `flushed` promise. */
  'lmdb-overlap': {
    describe: 'lmdb-js, overlappingSync=true (its Linux default): ack on the `flushed` promise',
    open(dir) {
      const { open } = require('lmdb');
      const db = open({ path: dir, encoding: 'string', compression: false, overlappingSync: true, separateFlushed: true });
      return { put: (key, value) => db.put(key, value).flushed, get: (key) => db.get(key), close: () => db.close() };
    },
  },
  /**
   * A deliberately wrong engine, to show the crash test can fail: it acks at
   * once and commits every 100 ms. Not part of the default run.
   */
  'control-ack-early': {
    describe: 'CONTROL: better-sqlite3 that acknowledges before committing (must lose writes on SIGKILL)',
    open(dir) {
      const db = openSqlite(dir);
      let pending = new Map();
      const commitAll = db.db.transaction((batch) => {
        for (const [key, value] of batch) db.put.run(key, value);
      });
      const commit = () => {
        commitAll(pending);
        pending = new Map();
      };
      const timer = setInterval(commit, 100);
      return {
        put(key, value) {
          pending.set(key, value);
          return Promise.resolve();
        },
        get: (key) => pending.get(key) ?? db.get.get(key),
        close() {
          clearInterval(timer);
          commit();
          db.close();
        },
      };
    },
  },
  /** classic-level (LevelDB): sync writes; LevelDB batches concurrent writers into one log write + fsync. */
  level: {
    describe: 'classic-level (LevelDB), put with {sync: true}',
    async open(dir) {
      const { ClassicLevel } = require('classic-level');
      const db = new ClassicLevel(dir, { valueEncoding: 'utf8' });
      await db.open();
      return {
        put: (key, value) => db.put(key, value, { sync: true }),
        get: (key) => db.get(key),
        close: () => db.close(),
      };
    },
  },
};

function openSqlite(dir) {
  const Database = require('better-sqlite3');
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, 'kv.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID');
  return {
    db,
    put: db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)'),
    get: db.prepare('SELECT v FROM kv WHERE k = ?').pluck(),
    close: () => db.close(),
  };
}

// ---------------------------------------------------------------------------
// Measurements

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(latencies) {
  const s = Float64Array.from(latencies).sort();
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
}

async function serial(engine, count) {
  const lat = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await engine.put(`s${i}`, VALUE);
    lat.push(performance.now() - t);
  }
  return summary(lat);
}

/** Open loop: write i is due at start + i/rate; latency runs from when it was due to its ack. */
async function offered(engine, rate, seconds) {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const fromDue = [];
  const fromIssue = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  await new Promise((resolve, reject) => {
    let issued = 0;
    let acked = 0;
    const pump = () => {
      while (issued < total && start + issued * interval <= performance.now()) {
        const due = start + issued * interval;
        const issuedAt = performance.now();
        engine.put(`o${issued}`, VALUE).then(() => {
          const now = performance.now();
          fromDue.push(now - due);
          fromIssue.push(now - issuedAt);
          if (++acked === total) resolve();
        }, reject);
        issued++;
      }
      if (issued < total) setTimeout(pump, Math.max(0, start + issued * interval - performance.now()));
    };
    pump();
  });
  const elapsed = (performance.now() - start) / 1000;
  loop.disable();
  return {
    rate: total / elapsed,
    ack: summary(fromDue),
    service: summary(fromIssue),
    // no sample at all: the loop never got round to its timer during the whole phase
    loopDelayP99: loop.count === 0 ? elapsed * 1000 : loop.percentile(99) / 1e6,
    loopDelayMax: loop.count === 0 ? elapsed * 1000 : loop.max / 1e6,
  };
}

/** Closed loop: `concurrency` writers, each issuing its next write when the last is acked. */
async function maxThroughput(engine, concurrency, seconds) {
  const lat = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let next = 0;
  const writer = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await engine.put(`m${next++}`, VALUE);
      lat.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
  return { writesPerSecond: lat.length / ((performance.now() - start) / 1000), ack: summary(lat) };
}

async function reads(engine, count, keyCount) {
  const lat = [];
  let seed = 12345;
  for (let i = 0; i < count; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const key = `o${seed % keyCount}`;
    const t = performance.now();
    const v = await engine.get(key);
    lat.push((performance.now() - t) * 1000);
    if (v !== VALUE) throw new Error(`read ${key}: got ${String(v).slice(0, 20)}`);
  }
  return summary(lat);
}

// ---------------------------------------------------------------------------
// Crash test: the child writes and prints each ack; the parent kills it and checks.

async function childWriter(name, dir, prefix, concurrency) {
  const engine = await engines[name].open(dir);
  let next = 0;
  const writer = async () => {
    for (;;) {
      const i = next++;
      await engine.put(`${prefix}${i}`, `${VALUE}-${i}`);
      process.stdout.write(`${i}\n`); // a pipe: written synchronously on Linux, before the next write
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
}

function runChildAndKill(name, dir, prefix, killAfterMs) {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [self, '--child-writer', name, '--data', dir, '--modules', opts.modules, '--key-prefix', prefix, '--concurrency', '16', '--value-bytes', opts['value-bytes']], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let timer;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited by itself (code ${code}, signal ${signal})`));
      const lines = out.split('\n');
      lines.pop(); // an incomplete last line was not a full ack
      resolve(lines.map(Number));
    });
  });
}

async function crash(name, rounds, killAfterMs) {
  const dir = mkdtempSync(join(opts.data, `distlab-crash-${name}-`));
  const acked = new Map(); // key -> value
  const perRound = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const ids = await runChildAndKill(name, dir, `r${r}-`, killAfterMs);
      for (const i of ids) acked.set(`r${r}-${i}`, `${VALUE}-${i}`);
      const engine = await engines[name].open(dir);
      let lost = 0;
      for (const [key, value] of acked) {
        let got;
        try {
          got = await engine.get(key);
        } catch {
          got = undefined; // classic-level 3 may reject on a missing key
        }
        if (got !== value) lost++;
      }
      await engine.close();
      perRound.push({ acked: ids.length, checked: acked.size, lost });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rounds: perRound, acked: perRound.reduce((a, r) => a + r.acked, 0), lost: Math.max(...perRound.map((r) => r.lost)) };
}

// ---------------------------------------------------------------------------

async function benchEngine(name, phases) {
  const dir = mkdtempSync(join(opts.data, `distlab-bench-${name}-`));
  const result = { engine: name, describe: engines[name].describe };
  try {
    const engine = await engines[name].open(dir);
    if (phases.has('serial')) result.serial = await serial(engine, num('serial-writes'));
    if (phases.has('offered') || phases.has('reads')) result.offered = await offered(engine, num('rate'), num('seconds'));
    if (phases.has('max')) result.max = await maxThroughput(engine, num('concurrency'), num('max-seconds'));
    if (phases.has('reads')) result.reads = await reads(engine, num('reads'), Math.round(num('rate') * num('seconds')));
    await engine.close();
    if (phases.has('crash')) result.crash = await crash(name, num('crash-rounds'), num('crash-after-ms'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

/** Several runs of one engine as one: the median of every figure; crash acks summed, losses summed. */
function aggregate(runs) {
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const merge = (values) => {
    const first = values[0];
    if (typeof first === 'number') return median(values);
    if (first === null || typeof first !== 'object') return first;
    return Object.fromEntries(Object.keys(first).map((k) => [k, merge(values.map((v) => v[k]))]));
  };
  const result = merge(runs);
  if (runs[0].crash) {
    result.crash = { runs: runs.map((r) => r.crash), acked: runs.reduce((a, r) => a + r.crash.acked, 0), lost: runs.reduce((a, r) => a + r.crash.lost, 0) };
  }
  return result;
}

const ms = (x) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));

function table(results) {
  const rows = [
    ['engine', 'serial p50/p99 ms', `@${opts.rate}/s ack p50/p99 ms`, 'loop-blocked p99/max ms', `max writes/s (${opts.concurrency} in flight)`, 'max p99 ms', 'read p50/p99 µs', 'SIGKILL: acked / lost'],
    ...results.map((r) => [
      r.engine,
      r.serial ? `${ms(r.serial.p50)} / ${ms(r.serial.p99)}` : '-',
      r.offered ? `${ms(r.offered.ack.p50)} / ${ms(r.offered.ack.p99)}` : '-',
      r.offered ? `${ms(r.offered.loopDelayP99)} / ${ms(r.offered.loopDelayMax)}` : '-',
      r.max ? String(Math.round(r.max.writesPerSecond)) : '-',
      r.max ? ms(r.max.ack.p99) : '-',
      r.reads ? `${ms(r.reads.p50)} / ${ms(r.reads.p99)}` : '-',
      r.crash ? `${r.crash.acked} / ${r.crash.lost}` : '-',
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

async function main() {
  if (opts['child-writer']) {
    await childWriter(opts['child-writer'], opts.data, opts['key-prefix'], num('concurrency'));
    return;
  }
  const names = opts.engines.split(',');
  const unknown = names.filter((n) => !(n in engines));
  if (unknown.length > 0) {
    console.error(`bench: unknown engine(s) ${unknown.join(', ')}; known: ${Object.keys(engines).join(', ')}`);
    process.exit(2);
  }
  const phases = new Set(opts.phases.split(','));
  const repeat = num('repeat');
  const runs = new Map(names.map((n) => [n, []]));
  const load = [loadavg()[0]];
  for (let rep = 0; rep < repeat; rep++) {
    // rotate the order, so no engine always runs first (or right after a heavy one)
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const name of order) {
      process.stderr.write(`[${rep + 1}/${repeat}] ${name}: ${engines[name].describe} ...\n`);
      runs.get(name).push(await benchEngine(name, phases));
    }
  }
  load.push(loadavg()[0]);
  const results = names.map((name) => aggregate(runs.get(name)));
  if (opts.json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(`node ${process.version}, data in ${opts.data}, values of ${opts['value-bytes']} bytes, ${cpus().length} CPUs, load average ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
    console.log(`${repeat > 1 ? `median of ${repeat} runs per figure (engine order rotated); ` : ''}SIGKILL column: acked writes in total / acked writes missing after restart\n`);
    console.log(table(results));
  }
}

await main();
