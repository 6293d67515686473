/**
 * From `distlab node` flags (or their DISTLAB_* environment variables) and
 * an optional roster file to the NodeConfig a node process runs with.
 * Every mistake is a UsageError: one line, exit code 2.
 */
import { networkInterfaces } from 'node:os';
import type { Level } from 'pino';
import type { LogFormat } from '../live/log.js';
import type { NodeConfig } from '../live/node-main.js';
import { DEFAULT_PROTOCOL_SETTINGS, type ProtocolSettings } from '../live/protocols.js';
import { defaultTeam, findNode, loadRoster, RosterError, type RosterEntry } from '../live/roster.js';
import { UsageError } from './errors.js';

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
}

export function resolveNodeConfig(flags: NodeFlags): NodeConfig {
  let roster: RosterEntry[];
  let self: RosterEntry;
  let port = flags.port;
  if (flags.roster !== undefined) {
    try {
      roster = loadRoster(flags.roster);
    } catch (err) {
      if (err instanceof RosterError) throw new UsageError(err.message);
      throw err;
    }
    const entry = findNode(roster, flags.id);
    if (!entry) throw new UsageError(`node ${flags.id} is not in ${flags.roster} (its ids: ${roster.map((n) => n.id).join(', ')})`);
    if (!flags.portGiven) port = portOf(entry.url);
    self = flags.team !== undefined ? { ...entry, team: flags.team } : entry;
    roster = roster.map((n) => (n.id === self.id ? self : n));
  } else {
    self = { id: flags.id, team: flags.team ?? defaultTeam(flags.id), url: `http://${advertisedHost(flags.host)}:${port}` };
    roster = [self];
  }
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
    protocols: { ...DEFAULT_PROTOCOL_SETTINGS, ...flags.protocols },
  };
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
