/**
 * Runs a watch view against a live cluster: a snapshot of every node
 * (`GET /status/<protocol>`), then each node's event stream (`GET /events`,
 * reconnecting when a node comes back — with a fresh snapshot, since events
 * sent while disconnected are not replayed). On a terminal the view is
 * redrawn in place; otherwise each change prints a new frame, at most one a
 * second. A node that cannot be reached is shown as such.
 */
import type { Agent } from 'undici';
import type { RosterEntry } from '../../live/roster.js';
import { subscribe, type Subscription } from '../../live/sse-client.js';
import { callNode, unreachableReason } from '../node-http.js';
import type { Reach, WatchView } from './view.js';

export interface Snapshot<S> {
  state: S;
  reach: Record<string, Reach>;
}

/** Asks one node for its status and folds it into the view. */
async function fetchStatus<S>(view: WatchView<S>, node: RosterEntry, agent: Agent, timeoutMs: number): Promise<{ status: unknown } | { down: string }> {
  try {
    const answer = await callNode(agent, `${node.url}/status/${view.protocol}`, { timeoutMs });
    if (answer.status !== 200) return { down: `HTTP ${answer.status}` };
    return { status: answer.body };
  } catch (err) {
    return { down: unreachableReason(err, timeoutMs) };
  }
}

/** One snapshot of every node, in parallel. */
export async function snapshotAll<S>(view: WatchView<S>, roster: readonly RosterEntry[], agent: Agent, timeoutMs: number, now: () => number): Promise<Snapshot<S>> {
  const answers = await Promise.all(roster.map((n) => fetchStatus(view, n, agent, timeoutMs)));
  let state = view.initial(roster.map((n) => n.id));
  const reach: Record<string, Reach> = {};
  roster.forEach((node, i) => {
    const a = answers[i] as { status: unknown } | { down: string };
    if ('down' in a) reach[node.id] = { state: 'down', detail: a.down };
    else {
      reach[node.id] = { state: 'up' };
      state = view.snapshot(state, node.id, a.status, now());
    }
  });
  return { state, reach };
}

export interface LiveWatchOptions {
  agent: Agent;
  timeoutMs: number;
  out: { write(s: string): unknown; isTTY?: boolean };
  color: boolean;
  /** Aborting it ends the watch. */
  signal: AbortSignal;
}

/** Watches until `signal` aborts. */
export async function watchLive<S>(view: WatchView<S>, roster: readonly RosterEntry[], opts: LiveWatchOptions): Promise<void> {
  const now = (): number => Date.now();
  const tty = opts.out.isTTY === true;
  let { state, reach } = await snapshotAll(view, roster, opts.agent, opts.timeoutMs, now);
  let timer: NodeJS.Timeout | undefined;
  let lastFrame = '';
  const draw = (): void => {
    timer = undefined;
    const frame = view.render(state, reach, { color: opts.color, now: now() });
    if (frame === lastFrame && !tty) return;
    lastFrame = frame;
    opts.out.write(tty ? `\x1b[H\x1b[2J${frame}\n\n(Ctrl+C to quit)\n` : `${frame}\n\n`);
  };
  const schedule = (): void => {
    if (timer === undefined && !opts.signal.aborted) timer = setTimeout(draw, tty ? 100 : 1000);
  };
  draw();

  const subs: Subscription[] = roster.map((node) =>
    subscribe(
      node.url,
      (e) => {
        state = view.event(state, e, now());
        schedule();
      },
      {
        types: view.eventTypes,
        signal: opts.signal,
        maxBackoffMs: 2000,
        onStatus: (status, detail) => {
          if (status === 'lost') {
            reach = { ...reach, [node.id]: { state: 'down', detail: detail === 'ECONNREFUSED' ? 'connection refused' : (detail ?? 'connection lost') } };
            schedule();
            return;
          }
          void fetchStatus(view, node, opts.agent, opts.timeoutMs).then((a) => {
            if ('down' in a) reach = { ...reach, [node.id]: { state: 'down', detail: a.down } };
            else {
              reach = { ...reach, [node.id]: { state: 'up' } };
              state = view.snapshot(state, node.id, a.status, now());
            }
            schedule();
          });
        },
      },
    ),
  );
  // Redraw now and then so ages and highlights move on a terminal.
  const tick = tty ? setInterval(schedule, 1000) : undefined;
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    else opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (tick) clearInterval(tick);
  if (timer) clearTimeout(timer);
  await Promise.all(subs.map((s) => s.closed));
}
