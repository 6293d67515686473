/**
 * Logs of a live node: pino, one structured line per event.
 *
 * On a terminal the lines are pretty (`12:00:01 INFO node 1 GET /data/:key 200 0.4ms`);
 * anywhere else they are JSON, one object per line, for machines. Every line
 * carries the node id, so the interleaved output of a whole local cluster
 * stays readable.
 */
import { createRequire } from 'node:module';
import { pino, type Level, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

// pino-pretty is loaded only when a logger is pretty (on a terminal), so a
// node logging JSON (as under `distlab up` or in tests) does not carry it.
const require = createRequire(import.meta.url);

export type LogFormat = 'auto' | 'pretty' | 'json';
export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'pretty', 'json'];

export interface LoggerOptions {
  nodeId: string;
  level?: Level | 'silent';
  /** `auto` (default): pretty when stdout is a terminal, JSON otherwise. */
  format?: LogFormat;
}

/** Fields of the one line logged per HTTP request. */
export interface RequestLogLine {
  method: string;
  /** The route pattern (`/data/:key`), or the path when no route matched. */
  route: string;
  status: number;
  /** Latency in milliseconds, from the request's arrival to the end of the reply. */
  ms: number;
}

const REQUEST_FIELDS = ['node', 'method', 'route', 'status', 'ms'];

export function createLogger(opts: LoggerOptions): Logger {
  const base = { node: opts.nodeId, pid: process.pid };
  const level = opts.level ?? 'info';
  const format = opts.format ?? 'auto';
  const usePretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!usePretty) return pino({ level, base });
  const pretty = require('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: 'HH:MM:ss.l',
    singleLine: true,
    ignore: ['pid', 'hostname', ...REQUEST_FIELDS].join(','),
    messageFormat: (log, messageKey) => {
      const head = `node ${String(log.node)}`;
      if (log[messageKey] === 'request') {
        return `${head} ${log.method} ${String(log.route)} ${String(log.status)} ${String(log.ms)}ms`;
      }
      return `${head} ${String(log[messageKey] ?? '')}`;
    },
  });
  return pino({ level, base }, stream);
}
