/**
 * The handouts' kill script (Module 6): every `everyMs`, SIGKILL a random
 * running node, wait `restartAfterMs`, start it again (the next kill comes
 * `everyMs` after the previous one, or as soon as the restart is done) — with the same data
 * directory, so what it had acknowledged must still be there.
 *
 * It drives anything that can list, kill and restart nodes: a LocalCluster
 * of this process (`distlab capstone`) or the control API of a running
 * `distlab up` (`distlab chaos kill`).
 */
export interface KillTarget {
  nodes(): Promise<Array<{ id: string; alive: boolean }>>;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
}

export interface KillerOptions {
  everyMs: number;
  restartAfterMs: number;
  /** Stop after this many kills (default: until stopped). */
  count?: number;
  random?: () => number;
  /** Told about every kill and restart (for printing). */
  onEvent?: (event: KillEvent) => void;
}

export type KillEvent =
  | { type: 'killed'; id: string; at: number }
  | { type: 'restarted'; id: string; at: number; downMs: number }
  | { type: 'error'; id?: string; message: string };

/** A running kill schedule. `stop()` ends it and restarts the node it has down, if any. */
export interface Killer {
  readonly kills: number;
  /** Resolves when the schedule ended (count reached, or stopped). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export function startKiller(target: KillTarget, options: KillerOptions): Killer {
  const random = options.random ?? Math.random;
  const emit = options.onEvent ?? (() => {});
  let stopped = false;
  let kills = 0;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  // Kills keep their rhythm (one every `everyMs`, start to start) however long a restart takes.
  const loop = async (): Promise<void> => {
    let round = performance.now();
    while (!stopped && (options.count === undefined || kills < options.count)) {
      await sleep(Math.max(0, round + options.everyMs - performance.now()));
      round = performance.now();
      if (stopped) break;
      let victim: string | undefined;
      try {
        const alive = (await target.nodes()).filter((n) => n.alive);
        if (alive.length === 0) {
          emit({ type: 'error', message: 'no node is running' });
          continue;
        }
        victim = (alive[Math.floor(random() * alive.length)] as { id: string }).id;
        await target.kill(victim);
        kills += 1;
        const killedAt = performance.now();
        emit({ type: 'killed', id: victim, at: killedAt });
        // The node comes back even when the schedule is stopped meanwhile.
        await sleep(options.restartAfterMs);
        await target.restart(victim);
        emit({ type: 'restarted', id: victim, at: performance.now(), downMs: Math.round(performance.now() - killedAt) });
      } catch (err) {
        emit({ type: 'error', ...(victim === undefined ? {} : { id: victim }), message: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  const done = loop();
  return {
    get kills() {
      return kills;
    },
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done;
    },
  };
}
