/**
 * Real node processes for integration tests: start nodes and clusters of the
 * built CLI (dist/bundle/main.js, what users run) on free ports, talk to them, and stop
 * everything afterwards.
 *
 *     afterEach(stopAll);
 *     const cluster = await startCluster({ nodes: 3 });
 *     const res = await http(`${cluster.nodes[0].url}/health`);
 *     await cluster.kill('2');          // SIGKILL, waits until gone
 *     await cluster.restart('2');       // same port and flags, waits until healthy
 *
 * Every cluster, node and CLI process started here is tracked and stopped by
 * `stopAll()`, so a failing test leaves no process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { LocalCluster, type LocalClusterOptions, type LocalNode } from '../../src/cli/local-cluster.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI_PATH = join(REPO_ROOT, 'dist/bundle/main.js');

function requireBuild(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: build first (npx tsc -p .), or run npm test`);
}

const clusters = new Set<LocalCluster>();
const processes = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** A fresh temporary directory, removed by stopAll(). */
export function tempDir(prefix = 'distlab-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export interface TestClusterOptions {
  /** Default 3. */
  nodes?: number;
  /** Extra `distlab node` flags, for every node or per id. `--log-level warn` is added unless given. */
  nodeArgs?: LocalClusterOptions['nodeArgs'];
  env?: NodeJS.ProcessEnv;
}

/** Starts `nodes` node processes (ids 1..n) on free loopback ports; resolves when all answer /health. */
export async function startCluster(opts: TestClusterOptions = {}): Promise<LocalCluster> {
  requireBuild();
  const argsFor = (id: string): readonly string[] => {
    const extra = typeof opts.nodeArgs === 'function' ? opts.nodeArgs(id) : (opts.nodeArgs ?? []);
    return extra.includes('--log-level') ? extra : ['--log-level', 'warn', ...extra];
  };
  const cluster = await LocalCluster.start({
    nodes: opts.nodes ?? 3,
    basePort: 0,
    rosterPath: join(tempDir(), 'roster.yaml'),
    cliPath: CLI_PATH,
    nodeArgs: argsFor,
    stdio: 'pipe',
    env: opts.env,
  });
  clusters.add(cluster);
  return cluster;
}

/** One node (id 1, a roster of one) with extra flags; resolves when it answers /health. */
export async function startNode(args: readonly string[] = []): Promise<LocalNode> {
  const cluster = await startCluster({ nodes: 1, nodeArgs: args });
  return cluster.nodes[0] as LocalNode;
}

/** A running CLI process with its output collected. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout matches `pattern`; rejects on exit or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Spawns `distlab <args>`; stopped by stopAll() if still running. */
export function spawnCli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliProcess {
  requireBuild();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      processes.delete(child);
      resolveExit({ code, signal });
      for (const l of listeners) l();
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) return done(() => resolveMatch(m));
          if (child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`distlab ${args.join(' ')} exited before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`)));
          }
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`))), timeoutMs);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `distlab <args>` to completion (killed after `timeoutMs`). */
export async function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnCli(args, opts);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Stops every cluster and CLI process started through this helper and removes temp dirs. */
export async function stopAll(): Promise<void> {
  const stopping = [...clusters].map((c) => c.stop());
  clusters.clear();
  for (const child of processes) child.kill('SIGKILL');
  await Promise.all([
    ...stopping,
    ...[...processes].map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())))),
  ]);
  processes.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Whether a process with this pid exists (and is not a zombie we could still reap). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any;
}

/** One HTTP request; `json` is sent as an application/json body. */
export async function http(
  url: string,
  init: {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    json?: unknown;
    body?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /** Use a connection of its own instead of the shared keep-alive pool. */
    newConnection?: boolean;
  } = {},
): Promise<HttpAnswer> {
  const headers = { ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const own = init.newConnection ? new Agent() : undefined;
  let res: Awaited<ReturnType<typeof request>>;
  let text: string;
  try {
    res = await request(url, {
      method: init.method ?? (init.json !== undefined || init.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
      ...(own ? { dispatcher: own } : {}),
    });
    text = await res.body.text();
  } finally {
    await own?.close();
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, headers: res.headers, body };
}
