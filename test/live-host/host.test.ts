import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ErrorCode } from '../../src/protocols/envelope.js';
import { LiveHost } from '../../src/live/host.js';
import { eventsOf, startCluster, stopAllClusters, until, type TestNode } from './cluster.js';

afterEach(async () => {
  await stopAllClusters();
});


async function postEnvelope(node: TestNode, body: unknown, contentType = 'application/json') {
  const res = await request(`${node.url}/envelope`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('LiveHost.request', () => {
  it('delivers a client operation from a non-member id and resolves with the reply', async () => {
    const [a] = await startCluster(['1', '2']);
    const reply = await a!.host.request({ type: 'echo', echo: { x: 1 } }, 1_000);
    expect(reply).toMatchObject({ type: 'echo_ok', echo: { x: 1 }, in_reply_to: 1 });
    const asked = await a!.host.request({ type: 'probe.ping', n: 3 }, 1_000);
    expect(asked).toMatchObject({ type: 'probe.ping_ok', n: 3 });
    const client = a!.probe.received[0]!.src;
    expect(a!.host.members()).not.toContain(client);
  });

  it('uses a fresh client id for every request', async () => {
    const [a] = await startCluster(['1']);
    await Promise.all([1, 2, 3].map((n) => a!.host.request({ type: 'probe.ping', n }, 1_000)));
    expect(new Set(a!.probe.received.map((m) => m.src)).size).toBe(3);
  });

  it('answers a type nobody handles with not-supported', async () => {
    const [a] = await startCluster(['1']);
    expect(await a!.host.request({ type: 'nonsense' }, 1_000)).toMatchObject({ type: 'error', code: ErrorCode.NotSupported });
  });

  it('times out with an indefinite error when nothing answers, and drops the late reply', async () => {
    const [a] = await startCluster(['1']);
    const reply = await a!.host.request({ type: 'probe.hold' }, 100);
    expect(reply).toMatchObject({ type: 'error', code: ErrorCode.Timeout });
    const held = a!.probe.held[0]!;
    a!.probe.env.reply(held, { type: 'probe.hold_ok' });
    await until('late reply dropped', () => eventsOf(a!, 'msg.dropped').length === 1);
    expect(eventsOf(a!, 'msg.dropped')[0]).toMatchObject({ dest: held.src, body: { type: 'probe.hold_ok' } });
  });

  it('turns a protocol that throws into a protocol.error event, and the node keeps serving', async () => {
    const [a] = await startCluster(['1']);
    expect(await a!.host.request({ type: 'probe.crash' }, 100)).toMatchObject({ code: ErrorCode.Timeout });
    expect(eventsOf(a!, 'protocol.error')).toMatchObject([{ where: 'request', error: 'probe asked to crash' }]);
    expect(await a!.host.request({ type: 'echo', echo: 2 }, 1_000)).toMatchObject({ type: 'echo_ok', echo: 2 });
  });

  it('answers waiting clients when the node stops, and refuses new requests', async () => {
    const [a] = await startCluster(['1']);
    const pending = a!.host.request({ type: 'probe.hold' }, 10_000);
    await until('request held', () => a!.probe.held.length === 1);
    await a!.host.stop();
    expect(await pending).toMatchObject({ type: 'error', code: ErrorCode.Crash });
    expect(await a!.host.request({ type: 'echo' }, 1_000)).toMatchObject({ type: 'error', code: ErrorCode.TemporarilyUnavailable });
  });
});

describe('LiveHost lifecycle and roster', () => {
  it('is a member of its own one-node cluster until a roster is set', () => {
    const host = new LiveHost({ id: 'a', protocols: [] });
    expect(host.members()).toEqual(['a']);
    host.setPeers([
      { id: 'b', url: 'http://127.0.0.1:1' },
      { id: 'a', url: 'http://127.0.0.1:2' },
    ]);
    expect(host.members()).toEqual(['b', 'a']);
  });

  it('refuses a roster without itself or with duplicate ids', () => {
    const host = new LiveHost({ id: 'a', protocols: [] });
    expect(() => host.setPeers([{ id: 'b', url: 'http://127.0.0.1:1' }])).toThrow(/does not include/);
    expect(() =>
      host.setPeers([
        { id: 'a', url: 'http://127.0.0.1:1' },
        { id: 'a', url: 'http://127.0.0.1:2' },
      ]),
    ).toThrow(/duplicate/);
  });

  it('cancels its timers on stop and arms none afterwards', async () => {
    const [a] = await startCluster(['1']);
    const fired: string[] = [];
    a!.host.setTimer(20, () => fired.push('host'));
    a!.probe.env.setTimer(20, () => fired.push('protocol'));
    await a!.host.stop();
    a!.host.setTimer(0, () => fired.push('after stop'));
    // A witness timer outside the host, armed after all of them: when it fires, theirs would have.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(fired).toEqual([]);
  });
});

describe('POST /envelope', () => {
  it('accepts one envelope or an array with 202 and delivers them', async () => {
    const [a] = await startCluster(['1', '2']);
    expect(await postEnvelope(a!, { src: '2', dest: '1', body: { type: 'probe.ping', n: 1 } })).toEqual({ status: 202, json: { accepted: 1 } });
    const batch = [2, 3].map((n) => ({ src: '2', dest: '1', body: { type: 'probe.ping', n } }));
    expect(await postEnvelope(a!, batch)).toEqual({ status: 202, json: { accepted: 2 } });
    await until('3 delivered', () => a!.probe.received.length === 3);
    expect(a!.probe.from('2')).toEqual([1, 2, 3]);
  });

  it.each([
    ['a missing body', { src: '2', dest: '1' }],
    ['an unknown top-level key', { src: '2', dest: '1', body: { type: 'probe.ping' }, extra: 1 }],
    ['a body without a type', { src: '2', dest: '1', body: { n: 1 } }],
    ['a msg_id that is not an integer', { src: '2', dest: '1', body: { type: 'echo', msg_id: '1' } }],
    ['an empty src', { src: '', dest: '1', body: { type: 'echo' } }],
    ['a bad item in a batch', [{ src: '2', dest: '1', body: { type: 'echo' } }, { src: 2, dest: '1', body: { type: 'echo' } }]],
    ['an empty batch', []],
    ['a number', 42],
    ['invalid JSON', '[{"src": '],
    ['an envelope for another node', { src: '2', dest: '3', body: { type: 'echo' } }],
  ])('rejects %s with 400 JSON {error, detail} and delivers nothing', async (_what, body) => {
    const [a] = await startCluster(['1', '2']);
    const res = await postEnvelope(a!, body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'Bad Request', detail: expect.any(String) });
    expect(eventsOf(a!, 'msg.received')).toEqual([]);
  });

  it('has no HEAD route for the event stream that could hold a connection open', async () => {
    const [a] = await startCluster(['1']);
    const res = await request(`${a!.url}/events`, { method: 'HEAD' });
    await res.body.dump();
    expect(res.statusCode).toBe(404);
  });

  it('rejects a body that is not JSON with a 4xx JSON answer', async () => {
    const [a] = await startCluster(['1']);
    const res = await postEnvelope(a!, '<envelope/>', 'application/xml');
    expect(res.status).toBe(415);
    expect(res.json).toEqual({ error: 'Unsupported Media Type', detail: expect.any(String) });
  });
});
