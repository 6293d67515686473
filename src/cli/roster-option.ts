/** Reading the roster named by a command's --roster flag; a bad file is bad usage (exit 2). */
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { loadRoster, RosterError, type RosterEntry } from '../live/roster.js';
import { UsageError } from './errors.js';

/** Where `distlab up` writes its roster, and where other commands look for one. */
export const DEFAULT_ROSTER_PATH = '.distlab/roster.yaml';

/** The `--roster FILE` option of every command that talks to a running cluster. */
export function rosterOption(): Option {
  return new Option('--roster <file>', `roster file, YAML or JSON (default: ${DEFAULT_ROSTER_PATH}, written by distlab up)`).env('DISTLAB_ROSTER');
}

export function readRosterOption(path: string | undefined): RosterEntry[] {
  const file = path ?? DEFAULT_ROSTER_PATH;
  if (path === undefined && !existsSync(file)) {
    throw new UsageError(`no roster at ${file}: start a local cluster with 'distlab up', or pass --roster FILE`);
  }
  try {
    return loadRoster(file);
  } catch (err) {
    if (err instanceof RosterError) throw new UsageError(err.message);
    throw err;
  }
}
