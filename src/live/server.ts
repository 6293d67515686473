/**
 * The HTTP face of a distlab node: a Fastify instance that speaks every route
 * of the workshop handouts, so their curl lines and Python clients work
 * unchanged.
 *
 * `buildServer` returns the instance before it listens, so more plugins (the
 * protocol host, the replicated store, ...) can be registered on it. Every
 * plugin reaches the node's identity, roster and state through
 * `app.distlab` (a NodeContext).
 *
 * House rules enforced here for every route, including plugins' routes:
 * - bodies are validated strictly against their TypeBox schema (unknown keys,
 *   wrong types → 400, nothing coerced or stripped); query strings are
 *   converted strictly ("?timeout_ms=500" is a number, "?w=1.5" is a 400),
 *   and a key a route does not declare is a 400 (a route that declares no
 *   query string takes no keys);
 * - every error is a 4xx/5xx JSON `{error, detail}` naming the problem;
 * - every response carries `X-Active-Requests`: requests in flight in this
 *   process, this one included;
 * - every request is logged as one line (node, method, route, status, ms).
 */
import { Kind, Type, type TLiteral, type TObject, type TSchema, type TUnion } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { STATUS_CODES, maxHeaderSize, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { NodeId } from '../protocols/envelope.js';
import { HttpError } from './http-error.js';
import { createLogger, type RequestLogLine } from './log.js';
import type { Roster, RosterEntry } from './roster.js';
import { dataRoutes } from './routes/data.js';
import { echoRoutes } from './routes/echo.js';
import { identityRoutes } from './routes/identity.js';
import { messageRoutes } from './routes/messages.js';
import { VisitCounter } from './state/counter.js';
import { LocalDataStore, type DataStore } from './state/data-store.js';
import { MessageLog } from './state/message-log.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** The query string of a route that declares none: no keys at all. */
const NO_QUERY = Type.Object({}, { additionalProperties: false });
export const DEFAULT_CALL_TIMEOUT_MS = 1000;
const QUIET_LOG_LEVELS = new Set(['warn', 'error', 'fatal', 'silent']);

export interface ServerOptions {
  /** This node: id, team and the URL peers reach it at. */
  self: RosterEntry;
  /** Every node of the cluster, this one included, in roster order. Default: just this node. */
  roster?: Roster;
  /** fib(N) burnt on each data request (0 = none). */
  loadFactor?: number;
  /** How many worker processes serve this node (shown in /stats). */
  workers?: number;
  /** Largest accepted request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Default timeout of calls to peers, e.g. /call-echo (default 1 s). */
  callTimeoutMs?: number;
  /** Default: a logger at level `info`, pretty on a terminal. */
  logger?: Logger;
  /** Where /data keeps values. Default: this node's own store in memory. */
  store?: DataStore;
  /** The /message log. Default: a fresh in-memory log. */
  messages?: MessageLog;
}

/** Everything a route or plugin needs to know about the node it runs in. */
export interface NodeContext {
  readonly id: NodeId;
  readonly self: RosterEntry;
  readonly roster: Roster;
  readonly loadFactor: number;
  readonly workers: number;
  readonly callTimeoutMs: number;
  /** The node's logger (Fastify's own `app.log` is switched off). */
  readonly logger: Logger;
  readonly store: DataStore;
  readonly messages: MessageLog;
  readonly counter: VisitCounter;
  /** performance.now() when the server was built. */
  readonly startedAt: number;
  /** Requests in flight in this process, the current one included. */
  activeRequests(): number;
  /** Requests received by this process since it started. */
  requestsTotal(): number;
  /** Adds fields to the answer of `GET /` (e.g. an election's `leader_id`). */
  extendRoot(fields: () => Record<string, unknown>): void;
  /** Adds fields to the answer of `GET /stats`. */
  extendStats(fields: () => Record<string, unknown>): void;
  /** The extra fields registered with extendRoot / extendStats, merged. */
  extraFields(view: 'root' | 'stats'): Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyInstance {
    distlab: NodeContext;
  }
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const logger = opts.logger ?? createLogger({ nodeId: opts.self.id });
  const app = Fastify({
    // Fastify's own per-request logging is off: the onResponse hook below logs
    // one line per request, and plugins log through app.distlab.logger.
    logger: false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // A request whose headers and body do not arrive within 30 s is dropped, so
    // a stalled client cannot hold a request open forever.
    requestTimeout: 30_000,
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send({ error: 'bad request', detail: err.message });
    },
    // What Node's HTTP parser refuses before there is a request to route.
    clientErrorHandler: (err, socket) => answerClientError(err, socket, logger),
  });

  let active = 0;
  let total = 0;
  const extensions = { root: [] as Array<() => Record<string, unknown>>, stats: [] as Array<() => Record<string, unknown>> };
  const ctx: NodeContext = {
    id: opts.self.id,
    self: opts.self,
    roster: opts.roster ?? [opts.self],
    loadFactor: opts.loadFactor ?? 0,
    workers: opts.workers ?? 1,
    callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    logger,
    store: opts.store ?? new LocalDataStore(),
    messages: opts.messages ?? new MessageLog(),
    counter: new VisitCounter(),
    startedAt: performance.now(),
    activeRequests: () => active,
    requestsTotal: () => total,
    extendRoot: (fields) => void extensions.root.push(fields),
    extendStats: (fields) => void extensions.stats.push(fields),
    extraFields: (view) => Object.assign({}, ...extensions[view].map((f) => f())) as Record<string, unknown>,
  };
  app.decorate('distlab', ctx);

  // Bodies are JSON only: anything else is answered 415 by the error handler.
  app.removeContentTypeParser('text/plain');
  // Fastify's JSON parser, which refuses a `__proto__` or `constructor.prototype`
  // key (prototype poisoning) as it refuses broken JSON: "not valid JSON".
  // Its refusals are told apart here, so the answer names the key.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    parseJson(request, body, (err, value) => {
      if (err) done(forbiddenKeyError(body) ?? err, undefined);
      else done(null, value);
    });
  });
  app.setValidatorCompiler(({ schema, httpPart }) => typeboxValidator(schema as TSchema, httpPart ?? 'body'));
  // A route that declares no query string takes none: `/stats?foo=` is a 400
  // naming 'foo', as an unknown key is on the routes that declare theirs.
  app.addHook('onRoute', (route) => {
    if (route.schema?.querystring === undefined) route.schema = { ...route.schema, querystring: NO_QUERY };
  });

  app.addHook('onRequest', (_request, reply, done) => {
    active += 1;
    total += 1;
    // 'close' fires once, whether the reply finished or the client went away.
    reply.raw.once('close', () => void (active -= 1));
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('x-active-requests', String(active));
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    // A route registered with a quieter logLevel (node-to-node `POST /envelope`) logs only its failures.
    const quiet = QUIET_LOG_LEVELS.has(request.routeOptions.logLevel) && reply.statusCode < 400;
    if (quiet) return done();
    const line: RequestLogLine = {
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0] ?? request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    logger.info(line, 'request');
    done();
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = describeError(err, request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? DEFAULT_BODY_LIMIT);
    if (status >= 500 && !(err instanceof HttpError)) logger.error({ err, url: request.url }, `${request.method} ${request.url} failed: ${err.message}`);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not found', detail: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  void app.register(identityRoutes);
  void app.register(dataRoutes);
  void app.register(messageRoutes);
  void app.register(echoRoutes);
  return app;
}

/**
 * Validation with TypeBox's compiled checker. Bodies are checked as they are
 * (no coercion, nothing stripped: a schema that forbids extra keys rejects
 * them); query strings, params and headers are first converted, strictly
 * (see `convertStrings`: "5" → 5, but "1.5", "1e0" or "true" are no
 * integer), and given their defaults.
 */
function typeboxValidator(schema: TSchema, httpPart: string) {
  const checker = TypeCompiler.Compile(schema);
  const part = httpPart === 'querystring' ? 'query' : httpPart;
  const hasDefaults = JSON.stringify(schema).includes('"default":');
  return (data: unknown) => {
    // Converting walks the schema and copies the value: only when needed
    // (a part that already checks, e.g. a string key, is used as it is).
    let value = data;
    if (httpPart !== 'body' && (hasDefaults || !checker.Check(data))) {
      value = convertStrings(schema, data);
      if (hasDefaults) value = Value.Default(schema, value);
    }
    if (checker.Check(value)) return { value };
    const first = checker.Errors(value).First();
    const where = first && first.path !== '' ? `${part} field '${first.path.slice(1).replaceAll('/', '.')}'` : part;
    const error = new Error(`${where}: ${first ? lowerFirst(first.message) : 'invalid'}`) as FastifyError;
    error.statusCode = 400;
    return { error };
  };
}

/** A plain decimal integer: "42", "-3" (the schema's minimum decides whether negatives pass). */
const INTEGER_STRING = /^-?\d+$/;
/** A plain decimal number: "42", "-0.5". */
const NUMBER_STRING = /^-?\d+(?:\.\d+)?$/;

/**
 * Turns the strings of a query string (or params, or headers) into what their
 * schema wants, and nothing more: an integer only from a plain decimal
 * integer, a number only from a plain decimal number, a boolean only from
 * true/false/1/0 (`GET /nodes?all=1`). Anything else stays a string, so the
 * check that follows names the field ("expected integer") instead of
 * quietly reading "1.9" as 1 or "true" as 1, as TypeBox's Value.Convert does.
 * Returns a copy; unknown keys are kept for the check to reject.
 */
function convertStrings(schema: TSchema, value: unknown): unknown {
  if (typeof value === 'string') return convertString(schema, value);
  if (schema[Kind] !== 'Object' || typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const properties = (schema as TObject).properties;
  // No prototype: a `__proto__` key stays a key, for the check to refuse.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) {
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
    out[key] = property === undefined ? v : convertStrings(property, v);
  }
  return out;
}

function convertString(schema: TSchema, s: string): unknown {
  switch (schema[Kind]) {
    case 'Integer':
      return INTEGER_STRING.test(s) ? Number(s) : s;
    case 'Number':
      return NUMBER_STRING.test(s) ? Number(s) : s;
    case 'Boolean':
      return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : s;
    case 'Literal':
      return String((schema as TLiteral).const) === s ? (schema as TLiteral).const : s;
    case 'Union':
      // The first member the string converts to and checks as ("5" stays a string in String | Integer).
      for (const member of (schema as TUnion).anyOf) {
        const converted = convertString(member, s);
        if (Value.Check(member, converted)) return converted;
      }
      return s;
    default:
      return s;
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Sockets already answered after a client error: later errors on them (the rest of a request still arriving) are ignored. */
const answeredClientErrors = new WeakSet<Socket>();
/** How long an answered socket may stay open waiting for the client to close its side. */
const CLIENT_ERROR_GRACE_MS = 2000;

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request —
 * a request line that is not HTTP, a bad Content-Length, bytes a URL cannot
 * hold, headers over the size limit, a request that timed out — with the
 * house's `{error, detail}` and `Connection: close`, then closes the socket.
 *
 * The answer is sent with end(), not followed by destroy(): destroying a socket
 * while the client's data is still unread makes the kernel reset the
 * connection, and the client may lose the answer. The rest of what the client
 * sends is read and dropped (each piece raises another client error, ignored
 * here) until it closes its side; one that does not is cut after a grace period.
 */
function answerClientError(err: Error & { code?: string; reason?: string }, socket: Socket, logger: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || answeredClientErrors.has(socket)) return;
  // A response already on its way (its headers sent) cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const { status, error, detail } = describeClientError(err);
  logger.debug({ code: err.code, status }, `client error: ${detail}`);
  const body = JSON.stringify({ error, detail });
  answeredClientErrors.add(socket);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  const grace = setTimeout(() => socket.destroy(), CLIENT_ERROR_GRACE_MS);
  grace.unref();
  socket.once('close', () => clearTimeout(grace));
}

function describeClientError(err: Error & { code?: string; reason?: string }): { status: number; error: string; detail: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, error: 'request timeout', detail: 'the request did not arrive in full in time' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: 'headers too large', detail: `the request line and headers exceed the limit of ${maxHeaderSize} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, error: 'body too large', detail: 'the chunk extensions of the request body are too large' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, error: 'bad request', detail: `the request's Content-Length header is not valid (${lowerFirst(err.reason ?? err.message)})` };
    case 'HPE_INVALID_URL':
      return { status: 400, error: 'bad request', detail: `the request's URL is not valid (${lowerFirst(err.reason ?? err.message)}); send non-ASCII bytes percent-encoded` };
  }
  return { status: 400, error: 'bad request', detail: `the request is not valid HTTP (${lowerFirst(err.reason ?? err.message)})` };
}

/**
 * For a body that is valid JSON yet was refused: the `__proto__` key, or the
 * `constructor` key holding a `prototype`, that got it refused (the rules of
 * Fastify's secure-json-parse), as a 400 naming it. Undefined for broken JSON.
 */
function forbiddenKeyError(text: string): HttpError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  // Iterative, so a deeply nested body cannot overflow the stack.
  const stack: Array<{ value: unknown; path: string }> = [{ value: parsed, path: '' }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    const at = (key: string) => (path === '' ? key : `${path}.${key}`);
    if (Object.hasOwn(value, '__proto__')) return forbidden('__proto__', at('__proto__'));
    const ctor = Object.hasOwn(value, 'constructor') ? (value as { constructor: unknown }).constructor : undefined;
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return forbidden('constructor.prototype', at('constructor.prototype'));
    for (const [key, child] of Object.entries(value)) stack.push({ value: child, path: at(key) });
  }
  return undefined;
}

function forbidden(key: string, path: string): HttpError {
  const where = path === key ? '' : ` (body field '${path}')`;
  return new HttpError(400, 'invalid request', `the key '${key}' is not allowed in a request body${where}: it could change the prototype of the objects built from it`);
}

/** Maps anything thrown while serving a request to a status and `{error, detail}`. */
function describeError(err: FastifyError, bodyLimit: number): { status: number; body: Record<string, unknown> } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.error, detail: err.detail, ...err.extra } };
  switch (err.code) {
    case 'FST_ERR_VALIDATION':
      return { status: 400, body: { error: 'invalid request', detail: err.message } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'malformed JSON', detail: 'the request body is not valid JSON' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'malformed JSON', detail: 'the body is empty but Content-Type says application/json' } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'body too large', detail: `the request body exceeds the limit of ${bodyLimit} bytes` } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported media type', detail: 'send the body as JSON with Content-Type: application/json' } };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: { error: 'bad request', detail: 'the body length does not match Content-Length' } };
  }
  if (err instanceof SyntaxError) return { status: 400, body: { error: 'malformed JSON', detail: `the request body is not valid JSON (${err.message})` } };
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) return { status, body: { error: 'bad request', detail: err.message } };
  return { status: 500, body: { error: 'internal error', detail: err.message } };
}
