/**
 * A node as a process: build the server, listen, and stop cleanly.
 *
 * With `workers > 1` the process becomes a node:cluster primary that forks
 * that many workers sharing the port — the handout's vertical scaling with
 * uvicorn workers. Each worker is a whole node server with its own counter,
 * store and in-flight count; the primary only forks, watches and stops them.
 *
 * A node stops on SIGINT or SIGTERM, and also when the process that started
 * it goes away (its IPC channel closes), so a cluster started by `distlab up`
 * never leaves orphans behind even if `up` itself is killed.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Level } from 'pino';
import { createLogger, type LogFormat } from './log.js';
import { DEFAULT_PROTOCOL_SETTINGS, registerProtocols, type ProtocolSettings } from './protocols.js';
import type { Roster, RosterEntry } from './roster.js';
import { buildServer } from './server.js';
import { KvDataStore } from './state/kv-data-store.js';
import type { SqliteStorage } from './storage-sqlite.js';

export interface NodeConfig {
  self: RosterEntry;
  roster: Roster;
  /** Bind address, e.g. 127.0.0.1 or 0.0.0.0. */
  host: string;
  /** 0 asks the OS for a free port. */
  port: number;
  loadFactor: number;
  workers: number;
  bodyLimit: number;
  callTimeoutMs: number;
  logLevel: Level | 'silent';
  logFormat: LogFormat;
  /** Tuning of the coordination protocols (default DEFAULT_PROTOCOL_SETTINGS). */
  protocols?: ProtocolSettings;
  /** Where the node keeps its data on disk (SQLite); without it, in memory (lost on restart). */
  dataDir?: string;
}

/** How long a stopping node waits for requests in flight (and workers) before it gives up on them. */
export const SHUTDOWN_GRACE_MS = 3000;

/** Thrown when the node cannot start (port taken, address unavailable, data directory unusable). */
export class NodeStartError extends Error {
  override readonly name = 'NodeStartError';
}

/** Runs the node until it is told to stop. */
export async function runNode(config: NodeConfig): Promise<void> {
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  return runServer(config);
}

/** Resolves on the first of SIGINT, SIGTERM, or the parent's IPC channel closing. */
function stopSignal(): { promise: Promise<string>; dispose(): void } {
  let resolve!: (why: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  const onInt = () => resolve('SIGINT');
  const onTerm = () => resolve('SIGTERM');
  const onDisconnect = () => resolve('parent gone');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  // A cluster worker's channel leads to its primary, which stops it itself.
  const watchParent = cluster.isPrimary && process.connected;
  if (watchParent) process.once('disconnect', onDisconnect);
  return {
    promise,
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (watchParent) process.off('disconnect', onDisconnect);
    },
  };
}

async function runServer(config: NodeConfig): Promise<void> {
  const logger = createLogger({ nodeId: config.self.id, level: config.logLevel, format: config.logFormat });
  // /data goes through the replicated store when the protocols run (one process per node).
  const replicated = config.workers === 1 ? new KvDataStore(config.self.id) : undefined;
  const app = buildServer({
    self: config.self,
    roster: config.roster,
    loadFactor: config.loadFactor,
    workers: config.workers,
    bodyLimit: config.bodyLimit,
    callTimeoutMs: config.callTimeoutMs,
    logger,
    store: replicated,
  });
  // Each worker of a multi-process node would claim the same node id, so the
  // protocols run only in a node of one process.
  if (replicated) {
    const storage = config.dataDir === undefined ? undefined : await openStorage(config.dataDir, logger);
    replicated.attach(registerProtocols(app, config.protocols ?? DEFAULT_PROTOCOL_SETTINGS, storage));
    if (storage) app.addHook('onClose', async () => storage.close());
  } else logger.warn(`the coordination protocols (ring, election, gossip, ...) are off with --workers ${config.workers}`);
  const stop = stopSignal();
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    stop.dispose();
    await app.close();
    throw new NodeStartError(describeListenError(err, config));
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const where = cluster.isWorker ? ` (worker ${cluster.worker?.id ?? '?'}, pid ${process.pid})` : '';
  logger.info(
    { url: config.self.url, bind: `${config.host}:${port}`, load_factor: config.loadFactor },
    `${config.self.team} listening on http://${config.host}:${port}${where}`,
  );
  warnIfUnreachable(config, logger);
  if (cluster.isPrimary) tellParentListening(port);

  const why = await stop.promise;
  stop.dispose();
  logger.info(`stopping (${why})`);
  await withDeadline(app.close(), SHUTDOWN_GRACE_MS);
  if (process.connected && cluster.isPrimary) process.disconnect();
}

async function runPrimary(config: NodeConfig): Promise<void> {
  const logger = createLogger({ nodeId: config.self.id, level: config.logLevel, format: config.logFormat });
  const workers = new Set<Worker>();
  let stopping = false;
  let resolveAllGone!: () => void;
  const allGone = new Promise<void>((r) => (resolveAllGone = r));
  let listening = 0;
  let boundPort = config.port;
  let rejectStart!: (err: Error) => void;
  let resolveStarted!: () => void;
  const started = new Promise<void>((res, rej) => {
    resolveStarted = res;
    rejectStart = rej;
  });

  for (let i = 0; i < config.workers; i++) {
    const worker = cluster.fork();
    workers.add(worker);
    worker.once('listening', (address) => {
      boundPort = address.port;
      listening += 1;
      if (listening === config.workers) resolveStarted();
    });
    worker.once('exit', (code, signal) => {
      workers.delete(worker);
      if (!stopping) {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (listening < config.workers) rejectStart(new NodeStartError(`a worker of node ${config.self.id} exited during start-up (${how})`));
        else logger.error({ worker: worker.id, code, signal }, `worker ${worker.id} (pid ${worker.process.pid}) exited (${how}); ${workers.size} left`);
      }
      if (workers.size === 0) resolveAllGone();
    });
  }

  const stop = stopSignal();
  const stopWorkers = async () => {
    stopping = true;
    for (const w of workers) w.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS);
    await allGone;
    clearTimeout(timer);
  };

  try {
    await Promise.race([started, stop.promise.then(() => undefined)]);
  } catch (err) {
    stop.dispose();
    await stopWorkers();
    throw err;
  }
  if (listening === config.workers) {
    logger.info(
      { url: config.self.url, workers: config.workers },
      `${config.self.team} serving http://${config.host}:${boundPort} with ${config.workers} workers`,
    );
    warnIfUnreachable(config, logger);
    tellParentListening(boundPort);
  }

  const why = await Promise.race([stop.promise, allGone.then(() => 'every worker exited')]);
  stop.dispose();
  logger.info(`stopping (${why})`);
  await stopWorkers();
  if (process.connected) process.disconnect();
  if (why === 'every worker exited') throw new NodeStartError(`every worker of node ${config.self.id} exited`);
}

/**
 * The node's SQLite file in `dir`; a failed commit stops the process (it
 * could not keep its promises). better-sqlite3 is loaded only here, so a node
 * without a data directory never loads it.
 */
async function openStorage(dir: string, logger: ReturnType<typeof createLogger>): Promise<SqliteStorage> {
  const { SqliteStorage } = await import('./storage-sqlite.js');
  let storage: SqliteStorage;
  try {
    storage = new SqliteStorage(dir, {
      onFailure: (err) => {
        logger.fatal({ err }, `storage failed, stopping: ${err.message}`);
        process.exit(1);
      },
    });
  } catch (err) {
    throw new NodeStartError(`cannot open the data directory ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  logger.info({ file: storage.file, entries: storage.size }, `data on disk: ${storage.file} (${storage.size} entries)`);
  return storage;
}

/** The message a node sends over its IPC channel (if it has one) once it serves on its port. */
export interface ListeningMessage {
  type: 'distlab.listening';
  port: number;
  pid: number;
}

/**
 * Tells the process that spawned this node (e.g. `distlab up`) that this very
 * process now serves the port — a /health answer alone could come from some
 * other process that already held the port.
 */
function tellParentListening(port: number): void {
  if (!process.send || !process.connected) return;
  const message: ListeningMessage = { type: 'distlab.listening', port, pid: process.pid };
  process.send(message);
}

function describeListenError(err: unknown, config: NodeConfig): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is already in use`;
  if (code === 'EADDRNOTAVAIL') return `cannot bind to ${config.host}: no such address on this machine`;
  if (code === 'EACCES') return `not allowed to listen on port ${config.port} (ports below 1024 need root)`;
  return `cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`;
}

/** Peers reach the node at its roster URL; say so when it binds only to loopback but peers are elsewhere. */
function warnIfUnreachable(config: NodeConfig, logger: ReturnType<typeof createLogger>): void {
  const advertised = new URL(config.self.url).hostname;
  const loopback = (h: string) => h === 'localhost' || h === '::1' || h === '[::1]' || h.startsWith('127.');
  if (loopback(config.host) && !loopback(advertised)) {
    logger.warn(`peers reach this node at ${config.self.url} but it listens on ${config.host} only; pass --host 0.0.0.0`);
  }
}

async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
