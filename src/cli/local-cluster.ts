/**
 * A cluster of node processes on this machine: the engine of `distlab up`,
 * and of the integration tests.
 *
 * It writes a roster, spawns one `distlab node` process per entry, waits
 * until each answers `/health`, and stops them all on request: SIGTERM, then
 * SIGKILL for any that lingers past the grace period. Nodes it lost meanwhile
 * (killed by chaos or by hand) are simply already gone. Each node is spawned
 * with an IPC channel and stops by itself when that channel closes, so even
 * if this process dies without cleaning up, no node outlives it.
 *
 * With `basePort: 0` the ports are chosen by the OS: they are reserved by
 * listening on port 0, released, and handed to the nodes. Another process
 * could grab one in between; then that node fails to start and the whole
 * start is retried on fresh ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import type { ListeningMessage } from '../live/node-main.js';
import { defaultTeam, formatRoster, type RosterEntry } from '../live/roster.js';

export interface LocalClusterOptions {
  /** How many nodes; their ids are 1..n. */
  nodes: number;
  /** Port of node 1 (node k gets basePort + k - 1); 0 = ports chosen by the OS. */
  basePort: number;
  /** Where to write the roster the nodes share. */
  rosterPath: string;
  /** Loopback address the nodes listen on (default 127.0.0.1). */
  host?: string;
  /** The distlab CLI to run (default: the one this module belongs to). */
  cliPath?: string;
  /** Extra `distlab node` arguments, for every node or per node id. */
  nodeArgs?: readonly string[] | ((id: string) => readonly string[]);
  /** `inherit`: nodes write to this process's terminal; `pipe`: their output is kept (see LocalNode.output). */
  stdio?: 'inherit' | 'pipe';
  env?: NodeJS.ProcessEnv;
  /** How long a node may take to answer /health after spawning (default 15 s). */
  startTimeoutMs?: number;
  /** Aborting gives up retrying a failed start. */
  signal?: AbortSignal;
}

export interface LocalNode {
  readonly id: string;
  readonly team: string;
  readonly url: string;
  readonly port: number;
  /** The current process (a new one after restart). */
  process: ChildProcess;
  readonly pid: number;
  /** True until the current process has exited. */
  readonly alive: boolean;
  /** The last 64 KiB of the node's stdout and stderr (with stdio: 'pipe'). */
  output(): string;
}

export type NodeExitListener = (node: LocalNode, code: number | null, signal: NodeJS.Signals | null) => void;

const DEFAULT_START_TIMEOUT_MS = 15_000;
const OUTPUT_KEEP = 64 * 1024;
const START_ATTEMPTS_ON_FREE_PORTS = 3;
const STOP_GRACE_MS = 5000;

/**
 * V8 flags every spawned node runs with. A 1 MiB semi-space (V8's default
 * grows to 16 MiB) keeps the young generation small: a node idles about
 * 4 MB lower and peaks about 20 MB lower under load, which matters for a
 * 5-node cluster on a 1 GB Raspberry Pi (see the README's "Benchmarks").
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** A file's contents, or undefined when there is no such file (or it cannot be read). */
function readIfFile(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Puts back what readIfFile returned: the old contents, or no file. Never throws (the caller is reporting a failure already). */
function restoreFile(path: string, contents: Buffer | undefined): void {
  try {
    if (contents === undefined) rmSync(path, { force: true });
    else writeFileSync(path, contents);
  } catch {
    // best effort
  }
}

/** The CLI entry point next to this module: dist/bundle/main.js in the bundle users run (scripts/bundle.mjs), dist/cli/main.js in tsc's output. */
function defaultCliPath(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

/** Ports the OS considers free right now on `host`. */
export async function reservePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, host, () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (typeof address !== 'object' || address === null) throw new Error('cannot read a reserved port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

class ManagedNode implements LocalNode {
  process!: ChildProcess;
  private exited!: Promise<void>;
  private running = false;
  private listening!: Promise<void>;
  private buffer = '';

  constructor(
    readonly id: string,
    readonly team: string,
    readonly port: number,
    readonly url: string,
    private readonly args: readonly string[],
    private readonly opts: Required<Pick<LocalClusterOptions, 'cliPath' | 'stdio' | 'startTimeoutMs'>> & { env?: NodeJS.ProcessEnv },
    private readonly onExit: (node: ManagedNode, code: number | null, signal: NodeJS.Signals | null) => void,
  ) {}

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.running;
  }

  output(): string {
    return this.buffer;
  }

  spawn(): void {
    const child = spawn(process.execPath, [...NODE_V8_FLAGS, this.opts.cliPath, 'node', ...this.args], {
      stdio: ['ignore', this.opts.stdio, this.opts.stdio, 'ipc'],
      env: this.opts.env ?? process.env,
    });
    this.process = child;
    this.running = true;
    const keep = (chunk: Buffer) => {
      this.buffer = (this.buffer + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // The channel only carries the "parent is gone" signal; it must not keep this process alive.
    child.channel?.unref();
    this.listening = new Promise((resolve) => {
      const onMessage = (message: Partial<ListeningMessage>) => {
        if (message?.type !== 'distlab.listening') return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.running = false;
        this.onExit(this, code, signal);
        resolve();
      });
    });
    child.once('error', (err) => {
      this.buffer += `\nspawn failed: ${err.message}`;
    });
  }

  /**
   * Waits until the process says it listens on its port, then polls /health
   * until it answers 200; fails if the process exits or the deadline passes.
   */
  async waitHealthy(agent: Agent): Promise<void> {
    const deadline = performance.now() + this.opts.startTimeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.listening.then(() => 'listening' as const),
      this.exited.then(() => 'exited' as const),
      new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.opts.startTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'exited') throw new Error(`node ${this.id} exited during start-up${this.lastLines()}`);
    if (outcome === 'late') throw new Error(`node ${this.id} did not start listening within ${this.opts.startTimeoutMs} ms${this.lastLines()}`);
    while (performance.now() < deadline) {
      if (exited) throw new Error(`node ${this.id} exited during start-up${this.lastLines()}`);
      try {
        const res = await request(`${this.url}/health`, { dispatcher: agent, signal: AbortSignal.timeout(1000) });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node ${this.id} did not answer ${this.url}/health within ${this.opts.startTimeoutMs} ms${this.lastLines()}`);
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.process.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.running) this.process.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, escalate]);
    clearTimeout(timer);
    await this.exited;
  }

  private lastLines(): string {
    const lines = this.buffer.trim().split('\n').slice(-5).join('\n  ');
    return lines ? `:\n  ${lines}` : '';
  }
}

export class LocalCluster {
  private readonly exitListeners = new Set<NodeExitListener>();
  private readonly agent = new Agent({ keepAliveTimeout: 1000 });
  private stopping = false;

  private constructor(
    readonly roster: RosterEntry[],
    private readonly managed: ManagedNode[],
    readonly rosterPath: string,
  ) {}

  get nodes(): readonly LocalNode[] {
    return this.managed;
  }

  node(id: string): LocalNode {
    return this.find(id);
  }

  /**
   * Starts the nodes and resolves once every one answers /health. A start
   * that fails leaves the roster file as it found it (absent, or with its
   * previous contents), so no roster points at a cluster that never ran.
   */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new RangeError(`nodes must be a positive integer, got ${options.nodes}`);
    const attempts = options.basePort === 0 ? START_ATTEMPTS_ON_FREE_PORTS : 1;
    const previousRoster = readIfFile(options.rosterPath);
    for (let attempt = 1; ; attempt++) {
      let cluster: LocalCluster | undefined;
      try {
        cluster = await LocalCluster.startOnce(options);
        await Promise.all(cluster.managed.map((n) => n.waitHealthy(cluster!.agent)));
        return cluster;
      } catch (err) {
        await cluster?.stop();
        if (cluster === undefined || attempt >= attempts || options.signal?.aborted) {
          restoreFile(options.rosterPath, previousRoster);
          throw err;
        }
      }
    }
  }

  private static async startOnce(options: LocalClusterOptions): Promise<LocalCluster> {
    const host = options.host ?? '127.0.0.1';
    const ids = Array.from({ length: options.nodes }, (_, i) => String(i + 1));
    const ports = options.basePort === 0 ? await reservePorts(options.nodes, host) : ids.map((_, i) => options.basePort + i);
    if (ports.some((p) => p > 65535)) throw new RangeError(`ports ${ports[0]}-${ports[ports.length - 1]} go past 65535`);
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const roster: RosterEntry[] = ids.map((id, i) => ({ id, team: defaultTeam(id), url: `http://${urlHost}:${ports[i]}` }));
    mkdirSync(dirname(options.rosterPath), { recursive: true });
    writeFileSync(options.rosterPath, formatRoster(roster, options.rosterPath));

    const spawnOpts = {
      cliPath: options.cliPath ?? defaultCliPath(),
      stdio: options.stdio ?? 'pipe',
      startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      env: options.env,
    };
    let cluster: LocalCluster | undefined;
    const managed = roster.map((entry, i) => {
      const extra = typeof options.nodeArgs === 'function' ? options.nodeArgs(entry.id) : (options.nodeArgs ?? []);
      const args = ['--id', entry.id, '--roster', options.rosterPath, '--host', host, '--port', String(ports[i]), ...extra];
      return new ManagedNode(entry.id, entry.team, ports[i] as number, entry.url, args, spawnOpts, (node, code, signal) =>
        cluster?.notifyExit(node, code, signal),
      );
    });
    cluster = new LocalCluster(roster, managed, options.rosterPath);
    for (const node of managed) node.spawn();
    return cluster;
  }

  /** Called when a node's process exits while the cluster is not stopping. */
  onNodeExit(listener: NodeExitListener): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Sends a signal to one node (default SIGKILL) and waits until its process is gone. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.find(id).kill(signal);
  }

  /** Starts a stopped or killed node again, same id, port and arguments; resolves when healthy. */
  async restart(id: string): Promise<void> {
    const node = this.find(id);
    if (node.alive) throw new Error(`node ${id} is still running (pid ${node.pid})`);
    node.spawn();
    await node.waitHealthy(this.agent);
  }

  /** Stops every node still running: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    await Promise.all(this.managed.map((n) => n.stop(graceMs)));
    await this.agent.close();
  }

  private notifyExit(node: ManagedNode, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    for (const listener of this.exitListeners) listener(node, code, signal);
  }

  private find(id: string): ManagedNode {
    const node = this.managed.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id} in this cluster (ids: ${this.managed.map((n) => n.id).join(', ')})`);
    return node;
  }
}
