/** Message counters and small statistics helpers for simulated runs. */

export interface Counts {
  sent: number;
  delivered: number;
  dropped: number;
}

export class MessageStats {
  /** Messages handed to the network (a duplicate is not a second send). */
  sent = 0;
  /** Messages that reached a running node or a client (duplicates count twice). */
  delivered = 0;
  /** Extra copies the network made. */
  duplicated = 0;
  readonly dropped = { loss: 0, partition: 0, crash: 0, unknown: 0 };
  /** Server-to-server traffic only: what msgs-per-op counts. */
  readonly servers: Counts = { sent: 0, delivered: 0, dropped: 0 };
  /** Traffic to or from a client. */
  readonly clients: Counts = { sent: 0, delivered: 0, dropped: 0 };
  readonly byType = new Map<string, Counts>();

  type(type: string): Counts {
    let c = this.byType.get(type);
    if (!c) {
      c = { sent: 0, delivered: 0, dropped: 0 };
      this.byType.set(type, c);
    }
    return c;
  }

  toJSON(): Record<string, unknown> {
    return {
      sent: this.sent,
      delivered: this.delivered,
      duplicated: this.duplicated,
      dropped: { ...this.dropped },
      servers: { ...this.servers },
      clients: { ...this.clients },
      byType: Object.fromEntries([...this.byType].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
  }
}

/** The q-quantile (0..1) of already ascending `sorted` values by the nearest-rank method; null when empty. */
export function nearestRank(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function maxOf(values: readonly number[]): number | null {
  let m: number | null = null;
  for (const v of values) if (m === null || v > m) m = v;
  return m;
}
