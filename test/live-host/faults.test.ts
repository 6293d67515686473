import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { FaultInjector, NO_FAULTS } from '../../src/live/faults.js';
import { eventsOf, startCluster, stopAllClusters, until, type TestNode } from './cluster.js';

afterEach(async () => {
  await stopAllClusters();
});


async function call(node: TestNode, method: 'GET' | 'POST' | 'DELETE', body?: unknown) {
  const res = await request(`${node.url}/admin/faults`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

/** Sends `count` pings from `from` to `to`, numbered from `first`. */
function pings(from: TestNode, to: TestNode, count: number, first = 0): void {
  for (let n = first; n < first + count; n++) from.probe.env.send(to.id, { type: 'probe.ping', n });
}

describe('FaultInjector', () => {
  it('drops with the given probability, using the random source it is handed', () => {
    const draws = [0.1, 0.6, 0.3, 0.9];
    const faults = new FaultInjector(() => draws.shift()!, { drop: 0.5 });
    expect([1, 2, 3, 4].map(() => faults.onSend('2').deliver)).toEqual([false, true, false, true]);
  });

  it('adds the delay plus a uniform share of the jitter', () => {
    const faults = new FaultInjector(() => 0.25, { delayMs: 100, jitterMs: 40 });
    expect(faults.onSend('2')).toEqual({ deliver: true, delayMs: 110 });
  });

  it('merges a patch field by field, and heals back to no faults', () => {
    const faults = new FaultInjector(Math.random);
    faults.set({ drop: 0.2, blockTo: ['3'] });
    expect(faults.set({ blockFrom: ['4'] })).toEqual({ ...NO_FAULTS, drop: 0.2, blockTo: ['3'], blockFrom: ['4'] });
    expect(faults.heal()).toEqual(NO_FAULTS);
  });
});

describe('fault injection on live nodes', () => {
  it('loses everything at drop=1 and nothing at drop=0', async () => {
    const [a, b] = await startCluster(['1', '2']);
    expect((await call(a!, 'POST', { drop: 1 })).json).toMatchObject({ drop: 1 });
    pings(a!, b!, 20);
    await until('20 drops', () => eventsOf(a!, 'msg.dropped').length === 20);
    expect(eventsOf(a!, 'msg.dropped').every((e) => e.reason === 'drop' && e.stage === 'send')).toBe(true);

    await call(a!, 'POST', { drop: 0 });
    pings(a!, b!, 20, 100);
    await until('20 delivered', () => b!.probe.received.length === 20);
    expect(b!.probe.from('1')).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(eventsOf(a!, 'msg.dropped')).toHaveLength(20);
  });

  it('holds a delayed message back while undelayed traffic overtakes it', async () => {
    const [a, b, c] = await startCluster(['1', '2', '3']);
    await call(a!, 'POST', { delayMs: 600 });
    a!.probe.env.send('2', { type: 'probe.ping', n: 'late' });
    c!.probe.env.send('2', { type: 'probe.ping', n: 'early' });
    await until('the undelayed message arrives', () => b!.probe.received.length >= 1);
    expect(b!.probe.received.map((m) => m.body.n)).toEqual(['early']);
    expect(eventsOf(a!, 'msg.sent')).toHaveLength(1); // handed to the transport, held by the delay
    await until('the delayed message arrives', () => b!.probe.received.length === 2);
    expect(b!.probe.received.map((m) => m.body.n)).toEqual(['early', 'late']);
    expect(eventsOf(a!, 'msg.dropped')).toEqual([]);
  });

  it('a one-way partition set on the sender blocks only that direction', async () => {
    const [a, b] = await startCluster(['1', '2']);
    await call(a!, 'POST', { blockTo: ['2'] });
    pings(a!, b!, 1);
    pings(b!, a!, 1);
    await until('2 -> 1 delivered', () => a!.probe.received.length === 1);
    await until('1 -> 2 dropped', () => eventsOf(a!, 'msg.dropped').length === 1);
    expect(eventsOf(a!, 'msg.dropped')[0]).toMatchObject({ dest: '2', stage: 'send', reason: 'partition' });
    expect(b!.probe.received).toEqual([]);
  });

  it('a one-way partition set on the receiver blocks only that direction', async () => {
    const [a, b] = await startCluster(['1', '2']);
    await call(b!, 'POST', { blockFrom: ['1'] });
    pings(a!, b!, 1);
    pings(b!, a!, 1);
    await until('2 -> 1 delivered', () => a!.probe.received.length === 1);
    await until('1 -> 2 refused on arrival', () => eventsOf(b!, 'msg.dropped').length === 1);
    expect(eventsOf(b!, 'msg.dropped')[0]).toMatchObject({ src: '1', dest: '2', stage: 'receive', reason: 'partition' });
    expect(b!.probe.received).toEqual([]);
  });

  it('a two-way partition set on one node blocks both directions, and healing restores them', async () => {
    const [a, b, c] = await startCluster(['1', '2', '3']);
    await call(a!, 'POST', { blockTo: ['2'], blockFrom: ['2'] });
    pings(a!, b!, 1);
    pings(b!, a!, 1);
    pings(c!, a!, 1);
    await until('both directions dropped', () => eventsOf(a!, 'msg.dropped').length === 2);
    expect(eventsOf(a!, 'msg.dropped').map((e) => `${e.src}->${e.dest}@${e.stage}`).sort()).toEqual(['1->2@send', '2->1@receive']);
    await until('3 -> 1 still delivered', () => a!.probe.from('3').length === 1);
    expect(b!.probe.received).toEqual([]);
    expect(a!.probe.from('2')).toEqual([]);

    expect((await call(a!, 'DELETE')).json).toEqual(NO_FAULTS);
    pings(a!, b!, 1, 10);
    pings(b!, a!, 1, 20);
    await until('traffic flows both ways again', () => b!.probe.from('1').length === 1 && a!.probe.from('2').length === 1);
    expect(b!.probe.from('1')).toEqual([10]);
    expect(a!.probe.from('2')).toEqual([20]);
  });

  it('shows the rules in force and announces changes as events', async () => {
    const [a] = await startCluster(['1', '2']);
    expect(await call(a!, 'GET')).toEqual({ status: 200, json: NO_FAULTS });
    await call(a!, 'POST', { delayMs: 5, jitterMs: 2 });
    expect((await call(a!, 'POST', { blockTo: ['2'] })).json).toEqual({ ...NO_FAULTS, delayMs: 5, jitterMs: 2, blockTo: ['2'] });
    expect((await call(a!, 'GET')).json).toEqual({ ...NO_FAULTS, delayMs: 5, jitterMs: 2, blockTo: ['2'] });
    expect(eventsOf(a!, 'faults.changed').at(-1)).toMatchObject({ rules: { blockTo: ['2'], delayMs: 5 } });
  });

  it.each([
    ['an unknown key', { drop: 0.1, lag: 5 }],
    ['a probability above 1', { drop: 1.5 }],
    ['a negative delay', { delayMs: -1 }],
    ['a number as a string', { drop: '0.5' }],
    ['a node list that is not a list', { blockTo: '2' }],
    ['an array', [{ drop: 1 }]],
    ['invalid JSON', '{"drop": '],
  ])('rejects %s with 400 JSON and changes nothing', async (_what, body) => {
    const [a] = await startCluster(['1']);
    const res = await call(a!, 'POST', body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'Bad Request', detail: expect.any(String) });
    expect((await call(a!, 'GET')).json).toEqual(NO_FAULTS);
  });
});
