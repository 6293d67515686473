/**
 * Parsers for command-line option values. Each throws commander's
 * InvalidArgumentError, which the CLI turns into a one-line message and
 * exit code 2.
 */
import { InvalidArgumentError } from 'commander';

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError(`expected an integer, got '${raw}'`);
    const n = Number(raw);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${n}`);
    return n;
  };
}

export function floatOption(min: number, max = Number.POSITIVE_INFINITY) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${raw}'`);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** Durations like `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds. Returns milliseconds. */
export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 500ms, 10s, 2m or 1h, got '${raw}'`);
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

/** A duration option (see parseDuration) of at least `minMs` milliseconds. */
export function durationOption(minMs = 0) {
  return (raw: string): number => {
    const ms = parseDuration(raw);
    if (ms < minMs) throw new InvalidArgumentError(`expected a ${minMs === 1 ? 'positive duration (at least 1 ms)' : `duration of at least ${minMs} ms`}, got '${raw}'`);
    return ms;
  };
}
