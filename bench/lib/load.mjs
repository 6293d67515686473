/**
 * HTTP load with autocannon, used as a library, in this process: the load
 * generator shares the machine's cores with the server it measures, so the
 * absolute figures are lower than on a separate client machine; the ratios
 * against the baseline (measured the same way, in the same run) are what
 * compare.
 */
import autocannon from 'autocannon';

export const CONNECTIONS = 50;
/** How many distinct keys the POST load writes, round robin. */
const WRITE_KEYS = 1000;
export const VALUE = 'v'.repeat(32);

/** The requests of one benchmarked operation against `baseUrl`. */
export function operation(name, baseUrl) {
  switch (name) {
    case 'GET /data/:key':
      return { url: `${baseUrl}/data/bench-key`, method: 'GET' };
    case 'GET /health':
      return { url: `${baseUrl}/health`, method: 'GET' };
    case 'POST /data': {
      let i = 0;
      return {
        url: `${baseUrl}/data`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest(req) {
              req.body = JSON.stringify({ key: `bench-${i++ % WRITE_KEYS}`, value: VALUE });
              return req;
            },
          },
        ],
      };
    }
    default:
      throw new Error(`unknown operation ${name}`);
  }
}

/**
 * One autocannon run: the connections send as fast as the server answers
 * (closed loop, for throughput; latency at a fixed rate is bench/lib/open-loop.mjs).
 */
export async function runLoad(op, { durationS, connections = CONNECTIONS }) {
  const options = { ...op, connections, duration: durationS };
  const r = await autocannon(options);
  return {
    reqPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of each figure over several runs, and the runs themselves. */
export function summarize(runs) {
  return {
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    failed: runs.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    runs,
  };
}
