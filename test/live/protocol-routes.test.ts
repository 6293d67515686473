/**
 * The protocol routes' input checks, in process (Fastify's inject, no
 * sockets): every bad body is a 400 naming the field, and a node whose
 * protocols are not running answers 503, never hangs.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/live/log.js';
import { DEFAULT_PROTOCOL_SETTINGS, registerProtocols } from '../../src/live/protocols.js';
import { buildServer } from '../../src/live/server.js';

let app: FastifyInstance;

beforeEach(async () => {
  const roster = [
    { id: '1', team: 'team1', url: 'http://127.0.0.1:5001' },
    { id: '2', team: 'team2', url: 'http://127.0.0.1:5002' },
  ];
  app = buildServer({ self: roster[0]!, roster, logger: createLogger({ nodeId: '1', level: 'silent' }) });
  registerProtocols(app, DEFAULT_PROTOCOL_SETTINGS);
  await app.ready(); // not listening: the protocols have not started
});
afterEach(async () => {
  await app.close();
});

const post = (url: string, payload?: unknown) => app.inject({ method: 'POST', url, ...(payload !== undefined && { payload: payload as object }) });

describe('protocol routes', () => {
  it.each([
    ['/gossip', { states: { '1': -1 } }, /states/],
    ['/gossip', { states: { '1': 1 }, colour: 'red' }, /colour|additional/i],
    ['/gossip', { states: { '99': 1 } }, /'99' is not a node of the roster \(1, 2\)/],
    ['/gossip', { states: { '1': 3, x: 1, y: 2 } }, /'x', 'y' are not nodes of the roster/],
    ['/register', { port: 6001 }, /'id'/],
    ['/register', { id: 'n9', url: 'not a url' }, /url/],
    ['/register', { id: 'n9', port: 70000 }, /port/],
    ['/register', { id: 'node9' }, /'port' \(or 'url'\) is required/],
    ['/coordinator', {}, /leader_id/],
    ['/election', { from: true }, /from/],
    ['/broadcast', { message: 'x', mode: 'sideways' }, /mode/],
    ['/broadcast', { message: 7, mode: 'structured' }, /string/],
    ['/broadcast/values', {}, /value/],
    ['/ring/start', { token: 5 }, /token/],
  ])('POST %s %j → 400', async (url, body, detail) => {
    const res = await post(url, body);
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(detail);
  });

  it("refuses to point a roster node's registry entry away from its roster URL", async () => {
    for (const body of [{ id: '1', port: 6001 }, { node_id: 2, url: 'http://10.0.0.9:5002' }]) {
      const res = await post('/register', body);
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({ error: 'conflict', detail: expect.stringMatching(/^node [12] is a roster node at http:\/\/127\.0\.0\.1:500[12]; its registry entry cannot be pointed at http:\/\//) });
    }
    // At its own URL it gets as far as the registry (not running here: 503).
    expect((await post('/register', { id: '2', url: 'http://127.0.0.1:5002' })).statusCode).toBe(503);
    // The same listener under another loopback name is its own URL too.
    expect((await post('/register', { id: '2', url: 'http://localhost:5002' })).statusCode).toBe(503);
  });

  it('takes no body as an empty one, and answers 503 while the protocols are not running', async () => {
    for (const url of ['/update', '/election', '/ring/start']) {
      const res = await post(url);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'unavailable', code: 11 });
    }
  });

  it('refuses query keys the protocol routes do not take, and keeps ?all=1 for /nodes', async () => {
    for (const url of ['/status/gossip?x=1', '/broadcast/values?limit=2', '/nodes?all=1&x=1']) {
      const res = await app.inject(url);
      expect(res.statusCode).toBe(400);
      expect(res.json().detail).toMatch(/^query field '(x|limit)': unexpected property$/);
    }
    // Valid: as far as the registry protocol, which is not running here.
    for (const url of ['/nodes?all=1', '/nodes?all=true', '/nodes?all=0']) expect((await app.inject(url)).statusCode).toBe(503);
    expect((await app.inject('/nodes?all=yes')).json().detail).toBe("query field 'all': expected boolean");
  });

  it('knows its protocols by name in GET /status/:protocol', async () => {
    expect((await app.inject('/status/gossip')).json()).toEqual({ states: {} });
    expect((await app.inject('/status/election')).json()).toMatchObject({ leader_id: null, algorithm: 'bully' });
    expect((await app.inject('/status/echo')).statusCode).toBe(404);
  });
});
