import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { httpErrorHandler } from '../../src/live/strict-body.js';
import { describeEvent } from '../../src/live/protocols.js';

const app = Fastify({ logger: false });
afterEach(() => app.close());

describe('the runtime routes\' error handler', () => {
  it('answers a server error with a 500 and reports it, since the app may have no logger', async () => {
    const reported: string[] = [];
    const errorHandler = httpErrorHandler((err, request) => reported.push(`${request.method} ${request.url}: ${err.message}`));
    app.get('/boom', { errorHandler }, async () => {
      throw new Error('kaput');
    });
    app.get('/teapot', { errorHandler }, async () => {
      throw Object.assign(new Error('short and stout'), { statusCode: 418 });
    });
    const boom = await app.inject('/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toEqual({ error: 'Internal Server Error', detail: 'internal error' });
    const teapot = await app.inject('/teapot');
    expect(teapot.json()).toEqual({ error: "I'm a Teapot", detail: 'short and stout' });
    expect(reported).toEqual(['GET /boom: kaput']); // client errors are not reported
  });

  it('a reported failure is logged by the node as an error line', () => {
    const line = describeEvent({ type: 'host.error', node: '1', time: 0, seq: 1, route: 'POST /admin/faults', error: 'kaput' });
    expect(line).toEqual({ level: 'error', text: 'POST /admin/faults failed: kaput' });
  });
});
