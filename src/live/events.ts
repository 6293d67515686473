/**
 * A live node's event stream: one hub that every stamped event passes
 * through, and the `GET /events` route that serves it as Server-Sent Events.
 *
 * Logs, terminal watchers, the dashboard and the checkers all read this one
 * stream (ARCHITECTURE.md, "One event stream"). A subscriber names the event
 * types it wants by prefix (`msg.` or `token`); the transport asks `wants()`
 * before it builds a per-message event, so message events cost nothing when
 * nobody listens.
 */

import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { StampedEvent } from '../protocols/env.js';
import { strictValidator, type RouteErrorHandler } from './strict-body.js';

export type EventListener = (event: StampedEvent) => void;

/** True when `type` starts with one of `prefixes`; no prefixes means every type. */
function matchesTypes(type: string, prefixes: readonly string[] | undefined): boolean {
  if (!prefixes || prefixes.length === 0) return true;
  return prefixes.some((p) => type.startsWith(p));
}

/** Splits a `types=a,b` query value into prefixes, ignoring empty parts. */
function parseTypes(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const prefixes = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  return prefixes.length > 0 ? prefixes : undefined;
}

interface Subscriber {
  listener: EventListener;
  types: readonly string[] | undefined;
  onEnd: (() => void) | undefined;
}

export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;

  /**
   * Calls `listener` with every published event whose type matches `types`
   * (all events when omitted). `onEnd` runs if the hub closes first.
   * Returns the unsubscribe function.
   */
  subscribe(listener: EventListener, types?: readonly string[], onEnd?: () => void): () => void {
    if (this.closed) {
      onEnd?.();
      return () => {};
    }
    const sub: Subscriber = { listener, types, onEnd };
    this.subscribers.add(sub);
    return () => {
      this.subscribers.delete(sub);
    };
  }

  /** Whether anybody would receive an event of this type. */
  wants(type: string): boolean {
    for (const sub of this.subscribers) if (matchesTypes(type, sub.types)) return true;
    return false;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publish(event: StampedEvent): void {
    for (const sub of this.subscribers) {
      if (!matchesTypes(event.type, sub.types)) continue;
      try {
        sub.listener(event);
      } catch {
        // A faulty subscriber (a log sink, a test) must never break the node.
      }
    }
  }

  /** Ends every subscription (their `onEnd` runs); later subscriptions end at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const subs = [...this.subscribers];
    this.subscribers.clear();
    for (const sub of subs) sub.onEnd?.();
  }
}

export interface EventStreamOptions {
  /** Milliseconds between heartbeat comments that keep idle connections alive. */
  heartbeatMs?: number;
  /** A stream whose unsent output exceeds this many bytes skips events until it drains. */
  maxBufferedBytes?: number;
}

const DEFAULT_EVENT_STREAM_OPTIONS: Required<EventStreamOptions> = {
  heartbeatMs: 15_000,
  maxBufferedBytes: 1 << 20,
};

const EventsQuery = Type.Object({ types: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });

/**
 * Serves `GET /events[?types=prefix1,prefix2]` as Server-Sent Events: one
 * `data: <json>` frame per event, a `: heartbeat` comment now and then. The
 * stream ends when the hub closes (the node stops); the route also ends every
 * open stream in Fastify's preClose hook, so `app.close()` never waits on them.
 */
export function registerEventStream(app: FastifyInstance, hub: EventHub, errorHandler: RouteErrorHandler, options: EventStreamOptions = {}): void {
  const { heartbeatMs, maxBufferedBytes } = { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options };
  const open = new Set<ServerResponse>();

  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  app.route<{ Querystring: { types?: string } }>({
    method: 'GET',
    url: '/events',
    // A HEAD request would otherwise hold a stream open with no body to carry.
    exposeHeadRoute: false,
    schema: { querystring: EventsQuery },
    validatorCompiler: strictValidator,
    errorHandler,
    handler(request, reply) {
      const types = parseTypes(request.query.types);
      reply.hijack();
      const raw = reply.raw;
      const headers: Record<string, string | number | string[]> = {};
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
      raw.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      raw.write(`: distlab event stream${types ? ` (${types.join(',')})` : ''}\n\n`);
      open.add(raw);

      let skipped = 0;
      const write = (frame: string): void => {
        if (raw.writableEnded || raw.destroyed) return;
        if (raw.writableLength > maxBufferedBytes) {
          skipped++;
          return;
        }
        if (skipped > 0) {
          raw.write(`: skipped ${skipped} events while the client was slow\n\n`);
          skipped = 0;
        }
        raw.write(frame);
      };
      const unsubscribe = hub.subscribe(
        (event) => {
          const data = serialize(event);
          if (data !== undefined) write(`data: ${data}\n\n`);
        },
        types,
        () => raw.end(),
      );
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      raw.on('close', () => {
        open.delete(raw);
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  });
}

const serialized = new WeakMap<object, string>();

/** JSON of an event, computed once however many streams carry it; undefined if it cannot be serialized. */
function serialize(event: StampedEvent): string | undefined {
  let data = serialized.get(event);
  if (data === undefined) {
    try {
      data = JSON.stringify(event);
    } catch {
      return undefined;
    }
    serialized.set(event, data);
  }
  return data;
}
