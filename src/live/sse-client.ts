/**
 * A small client for a node's `GET /events` stream, for watchers and tests.
 *
 * It keeps the subscription alive: when the stream ends or the node cannot
 * be reached (it restarted, it was killed), it reconnects after a backoff
 * that doubles up to a ceiling and resets once a connection succeeds.
 * Events that were emitted while it was disconnected are not replayed.
 */

import { request } from 'undici';
import { createParser } from 'eventsource-parser';
import type { StampedEvent } from '../protocols/env.js';

export interface SubscribeOptions {
  /** Only events whose type starts with one of these prefixes. */
  types?: readonly string[];
  /** Aborting it closes the subscription. */
  signal?: AbortSignal;
  /** First reconnection delay. */
  minBackoffMs?: number;
  /** Longest reconnection delay. */
  maxBackoffMs?: number;
  /** A connection silent for this long (no event, no heartbeat) is dropped and reopened. */
  idleTimeoutMs?: number;
  /** Told when a connection opens or is lost (with the reason). */
  onStatus?: (status: 'open' | 'lost', detail?: string) => void;
}

export interface Subscription {
  close(): void;
  /** Resolves once the subscription is closed and its connection released. */
  readonly closed: Promise<void>;
}

export const DEFAULT_SUBSCRIBE_OPTIONS = {
  minBackoffMs: 100,
  maxBackoffMs: 5_000,
  idleTimeoutMs: 45_000,
};

/** The `/events` URL of a node, from its base URL (or an `/events` URL as is), with the type filter. */
export function eventsUrl(url: string, types?: readonly string[]): string {
  const u = new URL(url);
  if (!u.pathname.endsWith('/events')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/events`;
  if (types && types.length > 0) u.searchParams.set('types', types.join(','));
  return u.toString();
}

/** Subscribes to a node's event stream; `url` is the node's base URL. */
export function subscribe(url: string, onEvent: (event: StampedEvent) => void, options: SubscribeOptions = {}): Subscription {
  const { minBackoffMs, maxBackoffMs, idleTimeoutMs } = { ...DEFAULT_SUBSCRIBE_OPTIONS, ...options };
  const target = eventsUrl(url, options.types);
  const controller = new AbortController();
  const close = (): void => controller.abort();
  options.signal?.addEventListener('abort', close, { once: true });
  if (options.signal?.aborted) close();

  const parser = createParser({
    onEvent(message) {
      let event: StampedEvent;
      try {
        event = JSON.parse(message.data) as StampedEvent;
      } catch {
        return; // not one of ours
      }
      try {
        onEvent(event);
      } catch (err) {
        // The caller's bug, not the connection's: surface it without tearing the stream down.
        queueMicrotask(() => {
          throw err;
        });
      }
    },
  });

  const run = async (): Promise<void> => {
    let backoff = minBackoffMs;
    while (!controller.signal.aborted) {
      try {
        const res = await request(target, {
          headers: { accept: 'text/event-stream' },
          signal: controller.signal,
          bodyTimeout: idleTimeoutMs,
        });
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
        }
        options.onStatus?.('open');
        backoff = minBackoffMs;
        parser.reset();
        const decoder = new TextDecoder();
        for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
        options.onStatus?.('lost', 'stream ended');
      } catch (err) {
        if (controller.signal.aborted) break;
        options.onStatus?.('lost', (err as Error & { code?: string }).code ?? (err as Error).message);
      }
      if (controller.signal.aborted) break;
      await sleep(backoff, controller.signal);
      backoff = Math.min(maxBackoffMs, backoff * 2);
    }
    options.signal?.removeEventListener('abort', close);
  };

  return { close, closed: run() };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
