/**
 * What every terminal watcher is made of: a state built from a snapshot of
 * each node (`GET /status/<protocol>`) and then from the nodes' events, and
 * a pure `render(state)` that draws it as text. The runner (./runner.ts)
 * does the I/O; the views never touch the network or the terminal, so they
 * are tested as plain functions.
 */
import type { StampedEvent } from '../../protocols/env.js';

/** Whether the watcher can reach a node: not yet asked, answering, or not (with why). */
export type Reach = { state: 'unknown' } | { state: 'up' } | { state: 'down'; detail: string };

export interface RenderOptions {
  /** ANSI colours and highlights (only on a terminal). */
  color: boolean;
  /** The watcher's clock (ms), for "how long ago" and fading highlights. */
  now: number;
}

export interface WatchView<S> {
  /** The protocol whose `GET /status/:protocol` seeds the view. */
  readonly protocol: string;
  /** Event type prefixes the view listens to. */
  readonly eventTypes: readonly string[];
  initial(nodes: readonly string[]): S;
  /** A node's status() answer; `now` is the watcher's clock. */
  snapshot(state: S, node: string, status: unknown, now: number): S;
  /** An event from one node's stream; `now` is the watcher's clock. */
  event(state: S, event: StampedEvent, now: number): S;
  render(state: S, reach: Readonly<Record<string, Reach>>, opts: RenderOptions): string;
}

/** ANSI helpers that do nothing without colour. */
export function paint(opts: RenderOptions) {
  const wrap = (code: string) => (s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), red: wrap('31'), green: wrap('32'), yellow: wrap('33'), inverse: wrap('7') };
}

/** A cell padded to `width` visible characters (ANSI codes do not count). */
export function pad(cell: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = cell.replace(/\x1b\[[0-9;]*m/g, '').length;
  return cell + ' '.repeat(Math.max(0, width - visible));
}

/** Rows of cells as aligned columns. */
export function columns(rows: ReadonlyArray<readonly string[]>): string {
  // eslint-disable-next-line no-control-regex
  const len = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, len(c))));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

/** The reachability cell of a node. */
export function reachCell(reach: Reach | undefined, opts: RenderOptions): string {
  const p = paint(opts);
  if (!reach || reach.state === 'unknown') return p.dim('?');
  return reach.state === 'up' ? p.green('up') : p.red(`unreachable (${reach.detail})`);
}

/** "3.2 s ago" for a time on the watcher's clock. */
export function ago(at: number | undefined, now: number): string {
  if (at === undefined) return '-';
  const s = Math.max(0, now - at) / 1000;
  return s < 60 ? `${s.toFixed(1)} s ago` : `${Math.floor(s / 60)} min ago`;
}
