/**
 * The node's HTTP contract, served in-process (Fastify inject, no sockets):
 * every route's answer and every kind of bad input.
 */
import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/live/log.js';
import { buildServer, type ServerOptions } from '../../src/live/server.js';

const roster = [
  { id: '1', team: 'alpha', url: 'http://127.0.0.1:5001' },
  { id: '2', team: 'beta', url: 'http://127.0.0.1:5002' },
];

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function server(opts: Partial<ServerOptions> = {}): FastifyInstance {
  app = buildServer({ self: roster[0]!, roster, logger: createLogger({ nodeId: '1', level: 'silent' }), ...opts });
  return app;
}

const postJson = (a: FastifyInstance, url: string, payload: unknown) =>
  a.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

describe('node routes', () => {
  it('GET / shows identity and counts its own calls', async () => {
    const a = server();
    const first = await a.inject('/');
    expect(first.json()).toEqual({ team: 'alpha', host: '127.0.0.1', counter: 1, id: 1, node_id: 1, message: 'Node is running' });
    await a.inject('/ping');
    expect((await a.inject('/')).json().counter).toBe(2);
  });

  it('answers /ping, /health and /stats', async () => {
    const a = server({ loadFactor: 3, workers: 4 });
    expect((await a.inject('/ping')).json()).toEqual({ status: 'pong' });
    expect((await a.inject('/health')).json()).toEqual({ status: 'ok', node_id: 1, active_requests: 1 });
    const stats = (await a.inject('/stats')).json();
    expect(stats).toMatchObject({ node_id: 1, active_requests: 1, load_factor: 3, workers: 4, pid: process.pid, requests_total: 3 });
    expect(typeof stats.uptime_s).toBe('number');
  });

  it('stores and returns data, and names the node in the 404', async () => {
    const a = server();
    const put = await postJson(a, '/data', { key: 'user_123', value: 'Alice' });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ status: 'stored', node_id: 1, key: 'user_123', value: 'Alice' });
    expect((await a.inject('/data/user_123')).json()).toEqual({ node_id: 1, key: 'user_123', value: 'Alice' });
    const missing = await a.inject('/data/k');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'not found', detail: "Key 'k' not found on Node 1" });
  });

  it('keeps a message log, oldest first', async () => {
    const a = server();
    expect((await postJson(a, '/message', { from: '192.168.10.11', payload: 'ring-token-1' })).statusCode).toBe(200);
    await postJson(a, '/message', { from: 'n2', payload: { hops: [1, 2] } });
    const log = (await a.inject('/messages')).json();
    expect(log.count).toBe(2);
    expect(log.messages.map((m: { from: string; payload: unknown }) => [m.from, m.payload])).toEqual([
      ['192.168.10.11', 'ring-token-1'],
      ['n2', { hops: [1, 2] }],
    ]);
  });

  it('echoes with its node id', async () => {
    expect((await server().inject('/echo?msg=hello%20there')).json()).toEqual({ msg: 'hello there', node_id: 1 });
  });

  it('renders non-integer ids as strings', async () => {
    const self = { id: 'n7', team: 'x', url: 'http://127.0.0.1:5007' };
    const a = server({ self, roster: [self] });
    expect((await a.inject('/')).json()).toMatchObject({ id: 'n7', node_id: 'n7' });
    expect((await a.inject('/data/zz')).json().detail).toBe("Key 'zz' not found on Node n7");
  });

  it('sets X-Active-Requests on every response, errors included', async () => {
    const a = server();
    for (const url of ['/', '/nope', '/data/none']) {
      expect((await a.inject(url)).headers['x-active-requests']).toBe('1');
    }
    expect((await postJson(a, '/data', {})).headers['x-active-requests']).toBe('1');
  });

  it('lets plugins add fields to GET / and /stats', async () => {
    const a = server();
    a.distlab.extendRoot(() => ({ leader_id: 2 }));
    a.distlab.extendStats(() => ({ keys: 0 }));
    expect((await a.inject('/')).json().leader_id).toBe(2);
    expect((await a.inject('/stats')).json().keys).toBe(0);
  });
});

describe('bad input', () => {
  const cases: Array<[string, { payload?: string; contentType?: string; url?: string }, number, RegExp]> = [
    ['malformed JSON', { payload: '{"key": "a"' }, 400, /not valid JSON/],
    ['empty JSON body', { payload: '' }, 400, /empty/],
    ['no body at all', { contentType: '' }, 400, /body: expected object/],
    ['a missing field', { payload: '{"key": "a"}' }, 400, /body field 'value': expected required property/],
    ['a wrong type (no coercion)', { payload: '{"key": "a", "value": 5}' }, 400, /body field 'value': expected string/],
    ['a number key', { payload: '{"key": 5, "value": "x"}' }, 400, /body field 'key': expected string/],
    ['an unknown field (not stripped)', { payload: '{"key": "a", "value": "b", "extra": 1}' }, 400, /unexpected property/],
    ['an array body', { payload: '[1, 2]' }, 400, /expected object/],
    ['a prototype-poisoning key', { payload: '{"key": "a", "value": "b", "__proto__": {"x": 1}}' }, 400, /^the key '__proto__' is not allowed in a request body: /],
    ['an escaped prototype-poisoning key', { payload: '{"key": "a", "value": "b", "\\u005f_proto__": {}}' }, 400, /^the key '__proto__' is not allowed/],
    ['a nested prototype-poisoning key', { payload: '{"key": "a", "value": "b", "x": [{"__proto__": 1}]}' }, 400, /the key '__proto__' is not allowed in a request body \(body field 'x\.0\.__proto__'\)/],
    ['a constructor.prototype key', { payload: '{"key": "a", "value": "b", "constructor": {"prototype": {"x": 1}}}' }, 400, /^the key 'constructor\.prototype' is not allowed/],
    ['an unsupported media type', { payload: 'key=a', contentType: 'text/plain' }, 415, /application\/json/],
    ['form data', { payload: 'key=a&value=b', contentType: 'application/x-www-form-urlencoded' }, 415, /application\/json/],
    ['an empty key', { payload: '{"key": "", "value": "b"}' }, 400, /body field 'key'/],
  ];

  it.each(cases)('POST /data with %s → %i {error, detail}', async (_name, c, status, detail) => {
    const a = server();
    const headers: Record<string, string> = {};
    const contentType = c.contentType ?? 'application/json';
    if (contentType) headers['content-type'] = contentType;
    const res = await a.inject({ method: 'POST', url: c.url ?? '/data', headers, payload: c.payload });
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['detail', 'error']);
    expect(body.detail).toMatch(detail);
  });

  it('refuses a body over the limit with 413', async () => {
    const a = server({ bodyLimit: 100 });
    const res = await postJson(a, '/data', { key: 'k', value: 'v'.repeat(200) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'body too large', detail: 'the request body exceeds the limit of 100 bytes' });
  });

  it('answers unknown routes and methods with 404 naming the route', async () => {
    const a = server();
    expect((await a.inject('/nope?x=1')).json()).toEqual({ error: 'not found', detail: 'no route GET /nope' });
    const wrongMethod = await a.inject({ method: 'DELETE', url: '/ping' });
    expect(wrongMethod.statusCode).toBe(404);
    expect(wrongMethod.json().detail).toBe('no route DELETE /ping');
  });

  it('validates query strings, coercing numbers', async () => {
    const a = server();
    expect((await a.inject('/echo')).json()).toEqual({ error: 'invalid request', detail: "query field 'msg': expected required property" });
    const badTimeout = await a.inject('/call-echo?msg=x&timeout_ms=soon');
    expect(badTimeout.statusCode).toBe(400);
    expect(badTimeout.json().detail).toMatch(/query field 'timeout_ms': expected integer/);
    const unknownTarget = await a.inject('/call-echo?msg=x&target=9');
    expect(unknownTarget.statusCode).toBe(400);
    expect(unknownTarget.json().detail).toMatch(/neither a roster id \(1, 2\) nor a URL/);
  });

  it.each([
    ['POST', '/data?w=1.5', 'w'],
    ['POST', '/data?w=true', 'w'],
    ['POST', '/data?w=2.999', 'w'],
    ['POST', '/data?w=%202', 'w'],
    ['DELETE', '/data/k?w=1.5', 'w'],
    ['GET', '/data/k?r=1.9', 'r'],
    ['GET', '/data/k?r=0x2', 'r'],
    ['GET', '/data/k?r=1e0', 'r'],
    ['GET', '/data/k?r=%2B1', 'r'],
    ['GET', '/call-echo?msg=x&timeout_ms=1.5', 'timeout_ms'],
  ])('refuses a query integer that is not a plain integer: %s %s', async (method, url, field) => {
    const a = server();
    const res = await a.inject({ method: method as 'GET', url, ...(method === 'POST' && { headers: { 'content-type': 'application/json' }, payload: '{"key":"k","value":"v"}' }) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid request', detail: `query field '${field}': expected integer` });
  });

  it('reads plain decimal query integers, and decimal numbers only where the schema wants a number', async () => {
    const a = server();
    a.get('/t', { schema: { querystring: Type.Object({ x: Type.Optional(Type.Number()), n: Type.Optional(Type.Integer()), b: Type.Optional(Type.Boolean()) }, { additionalProperties: false }) } }, async (request) => request.query);
    expect((await postJson(a, '/data?w=1', { key: 'k', value: 'v' })).statusCode).toBe(200);
    expect((await a.inject('/data/k?r=1')).json()).toMatchObject({ key: 'k', value: 'v' });
    expect((await a.inject('/data/k?r=0')).json().detail).toBe("query field 'r': expected integer to be greater or equal to 1");
    expect((await a.inject('/t?x=1.5&n=-3&b=true')).json()).toEqual({ x: 1.5, n: -3, b: true });
    expect((await a.inject('/t?x=2&b=0')).json()).toEqual({ x: 2, b: false });
    expect((await a.inject('/t?x=1e3')).json().detail).toBe("query field 'x': expected number");
    expect((await a.inject('/t?n=1.5')).json().detail).toBe("query field 'n': expected integer");
    expect((await a.inject('/t?b=yes')).json().detail).toBe("query field 'b': expected boolean");
  });

  it.each([
    ['/echo?msg=hi&foo=', 'foo'],
    ['/call-echo?msg=hi&foo=1', 'foo'],
    ['/stats?foo=', 'foo'],
    ['/messages?limit=abc', 'limit'],
    ['/?x=1', 'x'],
    ['/health?verbose=1', 'verbose'],
    ['/ping?x', 'x'],
    ['/stats?__proto__=x', '__proto__'],
    ['/data/k?__proto__=a&__proto__=b', '__proto__'],
  ])('refuses a query key the route does not take: GET %s', async (url, key) => {
    const res = await server().inject(url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid request', detail: `query field '${key}': unexpected property` });
  });

  it('refuses an unknown query key on POST routes too', async () => {
    const res = await postJson(server(), '/message?x=1', { from: 'n2', payload: 1 });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toBe("query field 'x': unexpected property");
  });

  it('answers a malformed URL with 400', async () => {
    const res = await server().inject('/data/%E0%A4%A');
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('bad request');
  });

  it('answers an unexpected failure with 500 {error, detail} and keeps serving', async () => {
    const a = server({
      store: {
        put: async () => {
          throw new Error('disk on fire');
        },
        get: async () => undefined,
      },
    });
    const res = await postJson(a, '/data', { key: 'k', value: 'v' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal error', detail: 'disk on fire' });
    expect((await a.inject('/ping')).statusCode).toBe(200);
  });
});

describe('malformed HTTP, answered on a raw socket', () => {
  /** Sends raw bytes and reads everything until the server closes the connection. */
  async function raw(port: number, bytes: string | Buffer): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => socket.end());
    socket.on('error', () => {}); // a reset shows as a missing answer below
    socket.write(bytes);
    await once(socket, 'close');
    return Buffer.concat(chunks).toString('latin1');
  }

  function parse(answer: string): { status: number; headers: string; body: unknown } {
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: body === '' ? undefined : JSON.parse(body) };
  }

  async function listening(): Promise<number> {
    const a = server();
    await a.listen({ port: 0, host: '127.0.0.1' });
    return (a.server.address() as AddressInfo).port;
  }

  it.each([
    ['a request line that is not HTTP', 400, 'GARBAGE\r\n\r\n', /not valid HTTP \(invalid method/],
    ['a Content-Length that is not a number', 400, 'POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}', /Content-Length/],
    ['a raw 0xff byte in the path', 400, Buffer.concat([Buffer.from('GET /data/'), Buffer.from([0xff]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]), /URL is not valid/],
    ['a 20,000-character URL', 431, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /exceed the limit of \d+ bytes/],
    ['a 200,000-character URL (still arriving when refused)', 431, `GET /${'a'.repeat(200_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /exceed the limit/],
  ])('%s → %i {error, detail}, then the connection closes', async (_name, status, bytes, detail) => {
    const port = await listening();
    const res = parse(await raw(port, bytes));
    expect(res.status).toBe(status);
    expect(res.headers).toContain('content-type: application/json');
    expect(res.headers).toContain('connection: close');
    expect(Object.keys(res.body as object).sort()).toEqual(['detail', 'error']);
    expect((res.body as { detail: string }).detail).toMatch(detail);
    // The node still serves.
    expect((await app!.inject('/ping')).statusCode).toBe(200);
  });

  it('answers a request that timed out with 408', async () => {
    const port = await listening();
    const accepted = once(app!.server, 'connection') as Promise<[Socket]>;
    const client = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    client.on('end', () => client.end());
    client.write('GET /ping HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    const [socket] = await accepted;
    // What Node's HTTP server raises once requestTimeout has passed (30 s: not waited for here).
    app!.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    await once(client, 'close');
    const res = parse(Buffer.concat(chunks).toString('latin1'));
    expect(res.status).toBe(408);
    expect(res.body).toEqual({ error: 'request timeout', detail: 'the request did not arrive in full in time' });
  });
});
