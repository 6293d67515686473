/**
 * The processes a benchmark measures: a distlab node and the bare baseline
 * server, each spawned as its own child like `distlab up` spawns nodes (with
 * an IPC channel, so none outlives the benchmark), plus what we read about
 * them from /proc: resident memory (VmRSS) and proportional memory (Pss,
 * which shares the node binary's pages fairly between processes).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { NODE_V8_FLAGS, reservePorts } from '../../dist/cli/local-cluster.js';

export const CLI_PATH = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));
export const BASELINE_PATH = fileURLToPath(new URL('../baseline-server.mjs', import.meta.url));

/** Every child still running, stopped by stopAll(). */
const children = new Set();

/**
 * Spawns a process that serves HTTP on 127.0.0.1:`port`.
 * @param {'distlab' | 'baseline'} kind
 * @param {{ port: number, nodeArgs?: string[] }} opts
 */
export function spawnServer(kind, { port, nodeArgs = [] }) {
  const args =
    kind === 'distlab'
      ? [...NODE_V8_FLAGS, CLI_PATH, 'node', '--id', '1', '--host', '127.0.0.1', '--port', String(port), ...nodeArgs]
      : [BASELINE_PATH, String(port)];
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  child.channel?.unref();
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c.toString('utf8')).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const server = { kind, child, pid: child.pid, port, url: `http://127.0.0.1:${port}`, startedAt, exited, stderr: () => stderr };
  children.add(server);
  void exited.then(() => children.delete(server));
  return server;
}

/** Spawns a server on a free port and resolves once it answers /health 200, with the time that took. */
export async function startServer(kind, opts = {}) {
  const [port] = await reservePorts(1);
  const server = spawnServer(kind, { port, ...opts });
  const readyMs = await waitHealthy(server);
  return { ...server, readyMs };
}

/**
 * Polls /health every 5 ms until it answers 200; returns the milliseconds
 * since the process was spawned. Fails if the process exits or takes over 15 s.
 */
export async function waitHealthy(server, timeoutMs = 15_000) {
  let gone = false;
  void server.exited.then(() => (gone = true));
  while (performance.now() - server.startedAt < timeoutMs) {
    if (gone) throw new Error(`${server.kind} server exited during start-up: ${server.stderr().trim().split('\n').slice(-3).join(' / ')}`);
    if ((await httpStatus(`${server.url}/health`)) === 200) return performance.now() - server.startedAt;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${server.kind} server did not answer /health within ${timeoutMs} ms`);
}

/** The status of a GET, or 0 when the connection fails. */
function httpStatus(url) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

/** Sends JSON and resolves with the status and parsed reply. */
export function httpJson(method, url, body) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    const req = request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.once('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(raw);
        } catch {
          // not JSON: leave null
        }
        resolve({ status: res.statusCode ?? 0, body: json });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.once('error', reject);
    req.end(text);
  });
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the process is gone. */
export async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 3000);
  await server.exited;
  clearTimeout(timer);
}

export async function stopAll() {
  await Promise.all([...children].map(stopServer));
}

/** A field of /proc/<pid>/status or /proc/<pid>/smaps_rollup, in MiB (null once the process is gone). */
function procKb(file, field, pid) {
  try {
    const match = readFileSync(`/proc/${pid}/${file}`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process in MiB (VmRSS). */
export const rssMb = (pid) => procKb('status', 'VmRSS', pid);
/** Proportional memory in MiB (Pss): shared pages, such as the node binary, divided among the processes sharing them. */
export const pssMb = (pid) => procKb('smaps_rollup', 'Pss', pid);

/** The direct children of a process, from /proc. */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Samples a process's RSS every `everyMs` until stopped; stop() returns the peak in MiB. */
export function sampleRss(pid, everyMs = 100) {
  let peak = rssMb(pid) ?? 0;
  const timer = setInterval(() => {
    const now = rssMb(pid);
    if (now !== null && now > peak) peak = now;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}
