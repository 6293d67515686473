import { ascending, nearestRank } from '../sim/stats.js';

/** Summary figures of a set of latencies (nearest-rank percentiles). */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The p-th percentile (0..100) of ascending `sorted` values; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return nearestRank(sorted, p / 100) ?? Number.NaN;
}

export function summarise(latencies: readonly number[]): LatencySummary {
  const sorted = ascending(latencies);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}
