/**
 * Open-loop load at a fixed offered rate, for latency at a given throughput.
 *
 * Request i is due at start + i / rate. A 1 ms tick sends every request
 * that is due, whatever the answers so far, so a slow answer cannot slow the
 * offered load down; latency is measured from the due time, not from the
 * moment the request left, so time a request spent waiting to be sent
 * counts too (no "coordinated omission"). Requests due in the first
 * `warmupS` seconds are sent on the same schedule but not counted: a fresh
 * node runs unoptimised code until V8 has compiled its hot paths, which on
 * a busy 2-core machine takes several seconds (`perSecond` shows it).
 *
 * The tick itself is a 1 ms timer, so a request leaves up to about a tick
 * after its due time and that lateness counts as latency too; `lateness`
 * reports it (send time minus due time), so it can be told apart.
 *
 * `request(i)` gives request i as { url, method, body }; the answer must be
 * 2xx to count as ok.
 */
import { Agent, request as send } from 'undici';

/** The value at quantile q (0..1) of an ascending array. */
export function quantile(sorted, q) {
  return sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    p99Ms: quantile(sorted, 0.99),
    p999Ms: quantile(sorted, 0.999),
    maxMs: sorted.at(-1),
  };
}

export async function openLoop({ request, rate, seconds, warmupS = 0, connections = 64 }) {
  const agent = new Agent({ connections, pipelining: 1, keepAliveTimeout: 10_000 });
  const total = Math.round((warmupS + seconds) * rate);
  const periodMs = 1000 / rate;
  const measured = [];
  const lateness = [];
  const bySecond = Array.from({ length: Math.ceil(warmupS + seconds) }, () => []);
  const errors = {};
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let settled;
  const allSettled = new Promise((resolve) => (settled = resolve));

  const fire = (i, due) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const counted = due - start >= warmupS * 1000;
    if (counted) lateness.push(performance.now() - due);
    // (A request that cannot even be built is an error like any other, not a hang.)
    new Promise((resolve) => {
      const { url, method = 'POST', body } = request(i);
      resolve(send(url, { method, dispatcher: agent, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }));
    })
      .then(async (res) => {
        await res.body.dump();
        const ms = performance.now() - due;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          bySecond[Math.floor((due - start) / 1000)].push(ms);
          if (counted) measured.push(ms);
        } else if (counted) errors[res.statusCode] = (errors[res.statusCode] ?? 0) + 1;
      })
      .catch((err) => {
        if (counted) errors[err.code ?? err.message] = (errors[err.code ?? err.message] ?? 0) + 1;
      })
      .finally(() => {
        if (--inFlight === 0 && sent === total) settled();
      });
  };

  const start = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      // Every request whose due time has come: i is due once now >= start + i * periodMs.
      const due = Math.min(total, Math.floor((performance.now() - start) / periodMs) + 1);
      while (sent < due) {
        fire(sent, start + sent * periodMs);
        sent++;
      }
      if (sent === total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  if (inFlight > 0) await allSettled;
  await agent.close();
  return {
    rate,
    seconds,
    warmupS,
    ok: measured.length,
    errors,
    maxInFlight,
    ...summary(measured),
    lateness: summary(lateness),
    perSecond: bySecond.map((latencies) => summary(latencies)),
  };
}
