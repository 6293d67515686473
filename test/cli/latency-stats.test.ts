import { describe, expect, it } from 'vitest';
import { percentile, summarise } from '../../src/cli/latency-stats.js';

describe('latency summary', () => {
  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarise(values.reverse())).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentile([7], 99)).toBe(7);
  });

  it('has no figures for no samples', () => {
    expect(Number.isNaN(summarise([]).p50)).toBe(true);
  });
});
