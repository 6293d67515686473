/**
 * `distlab load`: the handout's scaling-journey client. C concurrent senders
 * POST /data round-robin across the roster (or to one --target), each line
 * showing status, latency and the server's X-Active-Requests, and a summary
 * at the end (count, errors, req/s, p50/p95/p99). Without --requests or
 * --duration it runs until Ctrl+C, which stops it and prints the summary.
 * Exit code 1 when not a single request succeeded.
 */
import { Option, type Command } from 'commander';
import { Agent, request } from 'undici';
import { normaliseUrl, RosterError } from '../../live/roster.js';
import { OperationFailed, UsageError } from '../errors.js';
import { summarise } from '../latency-stats.js';
import { durationOption, intOption, parseDuration } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';
import { unreachableReason } from '../node-http.js';

interface LoadOptions {
  concurrent: number;
  target?: string;
  requests: number;
  duration: number;
  roster?: string;
  timeout: number;
  quiet?: boolean;
}

interface Outcome {
  url: string;
  ok: boolean;
  latencyMs: number;
}

export function register(program: Command): void {
  program
    .command('load')
    .description('POST /data round-robin across the roster (or to one --target) and report latency')
    .addOption(new Option('--concurrent <c>', 'requests in flight at once').default(1).argParser(intOption(1, 1000)))
    .addOption(new Option('--target <url>', 'send every request to this node instead of the whole roster'))
    .addOption(new Option('--requests <n>', 'stop after n requests (0 = no limit)').default(0).argParser(intOption(0)))
    .addOption(new Option('--duration <duration>', 'stop after this long, e.g. 10s (0 = no limit)').default(0, '0').argParser(parseDuration))
    .addOption(rosterOption())
    .addOption(new Option('--timeout <duration>', 'timeout of each request').default(5000, '5s').argParser(durationOption(1)))
    .option('--quiet', 'print only the summary, not one line per request')
    .action(async (opts: LoadOptions) => {
      await load(opts);
    });
}

function targetsOf(opts: LoadOptions): string[] {
  if (opts.target === undefined) return readRosterOption(opts.roster).map((n) => n.url);
  try {
    return [normaliseUrl(opts.target, '--target')];
  } catch (err) {
    if (err instanceof RosterError) throw new UsageError(err.message);
    throw err;
  }
}

async function load(opts: LoadOptions): Promise<void> {
  const targets = targetsOf(opts);
  const out = process.stdout;
  const tty = out.isTTY === true;
  const agent = new Agent({ connections: opts.concurrent, keepAliveTimeout: 5000 });
  const outcomes: Outcome[] = [];
  let issued = 0;
  let stopRequested = false;
  const onSignal = () => void (stopRequested = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const limits = [opts.requests ? `${opts.requests} requests` : '', opts.duration ? `${opts.duration / 1000} s` : ''].filter(Boolean).join(' or ');
  out.write(
    `${opts.concurrent} concurrent sender(s), ${targets.length === 1 ? `target ${targets[0]}` : `round-robin across ${targets.length} nodes`}, ${limits ? `until ${limits}` : 'until Ctrl+C'}\n`,
  );

  const started = performance.now();
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) out.write('\r\x1b[K');
    progressShown = false;
  };
  const showProgress = () => {
    if (!tty) return;
    const elapsed = (performance.now() - started) / 1000;
    const errors = outcomes.filter((o) => !o.ok).length;
    out.write(`\r\x1b[K${outcomes.length} done, ${errors} errors, ${(outcomes.length / Math.max(elapsed, 0.001)).toFixed(1)} req/s, ${elapsed.toFixed(1)} s`);
    progressShown = true;
  };
  const progressTimer = tty ? setInterval(showProgress, 250) : undefined;

  const more = () =>
    !stopRequested && (opts.requests === 0 || issued < opts.requests) && (opts.duration === 0 || performance.now() - started < opts.duration);

  const sender = async () => {
    while (more()) {
      const n = issued++;
      const url = targets[n % targets.length] as string;
      const t0 = performance.now();
      let line: string;
      let ok = false;
      try {
        const res = await request(`${url}/data`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: `load_${n}`, value: `value_${n}` }),
          signal: AbortSignal.timeout(opts.timeout),
        });
        await res.body.dump();
        ok = res.statusCode === 200;
        const active = res.headers['x-active-requests'] ?? '?';
        line = `${ok ? 'ok ' : 'ERR'} [${url}] ${res.statusCode} | latency ${(performance.now() - t0).toFixed(2)} ms | active ${String(active)}`;
      } catch (err) {
        line = `ERR [${url}] failed: ${unreachableReason(err, opts.timeout)}`;
      }
      outcomes.push({ url, ok, latencyMs: performance.now() - t0 });
      if (!opts.quiet || !ok) {
        clearProgress();
        out.write(`${line}\n`);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: opts.concurrent }, sender));
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    clearProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await agent.close();
  }

  const seconds = (performance.now() - started) / 1000;
  const okOnes = outcomes.filter((o) => o.ok);
  const s = summarise(okOnes.map((o) => o.latencyMs));
  const perNode = targets.map((t) => `${t} ${outcomes.filter((o) => o.url === t).length}`).join(', ');
  const ms = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(1));
  out.write(
    `\nrequests ${outcomes.length}  ok ${okOnes.length}  errors ${outcomes.length - okOnes.length}  in ${seconds.toFixed(2)} s  ${(outcomes.length / Math.max(seconds, 0.001)).toFixed(1)} req/s\n` +
      `latency of successful requests (ms): p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}\n` +
      `per node: ${perNode}\n`,
  );
  if (outcomes.length > 0 && okOnes.length === 0) throw new OperationFailed('no request succeeded');
}
