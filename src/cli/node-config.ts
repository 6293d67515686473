/**
 * From `distlab node` flags (or their DISTLAB_* environment variables) and
 * an optional roster file to the NodeConfig a node process runs with.
 * Every mistake is a UsageError: one line, exit code 2.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Level } from 'pino';
import type { LogFormat } from '../live/log.js';
import type { NodeConfig } from '../live/node-main.js';
import { DEFAULT_PROTOCOL_SETTINGS, type ProtocolSettings } from '../live/protocols.js';
import { defaultTeam, findNode, type RosterEntry } from '../live/roster.js';
import { quorumConfigProblem } from '../protocols/quorum.js';
import { UsageError } from './errors.js';
import { readRosterOption } from './roster-option.js';

export interface NodeFlags {
  id: string;
  team?: string;
  host: string;
  port: number;
  /** Whether --port (or DISTLAB_PORT) was given; if not, a roster entry's port wins over the default. */
  portGiven: boolean;
  roster?: string;
  loadFactor: number;
  workers: number;
  logLevel: Level | 'silent';
  logFormat: LogFormat;
  bodyLimit: number;
  callTimeoutMs: number;
  /** Protocol tuning; each field defaults to DEFAULT_PROTOCOL_SETTINGS. */
  protocols?: Partial<ProtocolSettings>;
  /** --data-dir: where the node keeps its data (SQLite). */
  dataDir?: string;
}

export function resolveNodeConfig(flags: NodeFlags): NodeConfig {
  let roster: RosterEntry[];
  let self: RosterEntry;
  let port = flags.port;
  if (flags.roster !== undefined) {
    roster = readRosterOption(flags.roster);
    const entry = findNode(roster, flags.id);
    if (!entry) throw new UsageError(`node ${flags.id} is not in ${flags.roster} (its ids: ${roster.map((n) => n.id).join(', ')})`);
    if (!flags.portGiven) port = portOf(entry.url);
    self = flags.team !== undefined ? { ...entry, team: flags.team } : entry;
    roster = roster.map((n) => (n.id === self.id ? self : n));
  } else {
    self = { id: flags.id, team: flags.team ?? defaultTeam(flags.id), url: `http://${advertisedHost(flags.host)}:${port}` };
    roster = [self];
  }
  if (flags.dataDir !== undefined && flags.workers > 1) throw new UsageError('--data-dir needs --workers 1: the replicated store runs in a node of one process');
  const dataDirBad = flags.dataDir === undefined ? undefined : dataDirProblem(flags.dataDir);
  if (dataDirBad) throw new UsageError(`--data-dir ${flags.dataDir}: ${dataDirBad}`);
  const kv = { ...DEFAULT_PROTOCOL_SETTINGS.kv, ...flags.protocols?.kv };
  const kvProblem = kvSettingsProblem(kv);
  if (kvProblem) throw new UsageError(kvProblem);
  return {
    self,
    roster,
    host: flags.host,
    port,
    loadFactor: flags.loadFactor,
    workers: flags.workers,
    bodyLimit: flags.bodyLimit,
    callTimeoutMs: flags.callTimeoutMs,
    logLevel: flags.logLevel,
    logFormat: flags.logFormat,
    protocols: { ...DEFAULT_PROTOCOL_SETTINGS, ...flags.protocols, kv: fitKvToCluster(kv, roster.length) },
    ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
  };
}

/**
 * A cluster smaller than N keeps every key on every node: N, R and W are
 * capped at the cluster size, so a lone node (the handouts' Module 1) still
 * stores and answers with N=R=W=1.
 */
function fitKvToCluster(kv: ProtocolSettings['kv'], nodes: number): ProtocolSettings['kv'] {
  const n = Math.min(kv.n, nodes);
  return { ...kv, n, r: Math.min(kv.r, n), w: Math.min(kv.w, n) };
}

/** Why --replicas/--read-quorum/--write-quorum/--consistency cannot work together, if they cannot. */
export function kvSettingsProblem(kv: ProtocolSettings['kv']): string | undefined {
  const problem = quorumConfigProblem(kv);
  if (problem) return `--replicas/--read-quorum/--write-quorum: ${problem.replace(/\bn\b/g, 'replicas').replace(/\br\b/g, 'read quorum').replace(/\bw\b/g, 'write quorum')}`;
  if (kv.mode === 'linearizable' && kv.r + kv.w <= kv.n) return `--consistency linearizable needs read quorum + write quorum > replicas (got ${kv.r} + ${kv.w} <= ${kv.n})`;
  return undefined;
}

/**
 * Why `dir` cannot hold a node's data, if it cannot: it, or the nearest of
 * its parents that exists, must be a directory this process may write in
 * (the node creates what is missing).
 */
export function dataDirProblem(dir: string): string | undefined {
  const target = resolve(dir);
  for (let path = target; ; path = dirname(path)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // missing, or under a file (which the walk up reaches next)
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(path) !== path) continue;
      return `cannot use ${path === target ? 'it' : path}: ${code ?? (err as Error).message}`;
    }
    if (!isDirectory) return path === target ? 'not a directory' : `${path} is not a directory`;
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
    } catch {
      return path === target ? 'not writable' : `${path} is not writable`;
    }
    return undefined;
  }
}

function portOf(url: string): number {
  const u = new URL(url);
  if (u.port !== '') return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}

/** The address peers would use: the bind address, or this machine's first LAN IPv4 when bound to all. */
function advertisedHost(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::') return bind.includes(':') ? `[${bind}]` : bind;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
