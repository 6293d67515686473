import { afterEach, describe, expect, it } from 'vitest';
import type { Body } from '../../src/protocols/envelope.js';
import type { StampedEvent } from '../../src/protocols/env.js';
import WebSocket from 'ws';
import { LiveHost } from '../../src/live/host.js';
import { Probe, deadUrl, eventsOf, startCluster, stopAllClusters, until, type TestNode } from './cluster.js';

afterEach(async () => {
  await stopAllClusters();
});


describe('the transport between live nodes', () => {
  it('carries envelopes between nodes over a real socket, with sent and received events', async () => {
    const [a, b] = await startCluster(['1', '2']);
    a!.probe.env.send('2', { type: 'probe.ping', n: 1 });
    b!.probe.env.send('1', { type: 'probe.ping', n: 2 });
    await until('both pings delivered', () => a!.probe.received.length === 1 && b!.probe.received.length === 1);
    expect(b!.probe.from('1')).toEqual([1]);
    expect(a!.probe.from('2')).toEqual([2]);
    expect(b!.batchesReceived).toBe(1);
    expect(eventsOf(a!, 'msg.sent')).toMatchObject([{ node: '1', src: '1', dest: '2', body: { type: 'probe.ping', n: 1 } }]);
    expect(eventsOf(b!, 'msg.received')).toMatchObject([{ node: '2', src: '1', dest: '2', body: { type: 'probe.ping', n: 1 } }]);
    expect(eventsOf(b!, 'probe.got')).toMatchObject([{ node: '2', from: '1', n: 1 }]);
  });

  it('completes an rpc round trip between nodes', async () => {
    const [a] = await startCluster(['1', '2']);
    const reply = await new Promise<Body>((resolve) => a!.probe.env.rpc('2', { type: 'echo', echo: 'hello' }, 5_000, resolve));
    expect(reply).toMatchObject({ type: 'echo_ok', echo: 'hello' });
  });

  it('coalesces envelopes sent to one peer in the same tick into one frame', async () => {
    const [a, b, c] = await startCluster(['1', '2', '3']);
    for (let n = 0; n < 50; n++) {
      a!.probe.env.send('2', { type: 'probe.ping', n });
      a!.probe.env.send('3', { type: 'probe.ping', n });
    }
    await until('all 100 delivered', () => b!.probe.received.length === 50 && c!.probe.received.length === 50);
    const expected = Array.from({ length: 50 }, (_, n) => n);
    expect(b!.probe.from('1')).toEqual(expected);
    expect(c!.probe.from('1')).toEqual(expected);
    expect(b!.batchesReceived).toBe(1);
    expect(c!.batchesReceived).toBe(1);
    expect(a!.host.transport.stats()).toMatchObject({ frames: 2, envelopesSent: 100, failures: 0 });
  });

  it('splits a batch that would exceed the byte limit', async () => {
    const [a, b] = await startCluster(['1', '2'], { runtime: { transport: { maxBatchBytes: 2_000 } } });
    const pad = 'x'.repeat(500);
    for (let n = 0; n < 10; n++) a!.probe.env.send('2', { type: 'probe.ping', n, pad });
    await until('all 10 delivered', () => b!.probe.received.length === 10);
    expect(b!.probe.from('1')).toEqual(Array.from({ length: 10 }, (_, n) => n));
    expect(b!.batchesReceived).toBeGreaterThan(1);
    expect(b!.batchesReceived).toBeLessThan(10);
  });

  it('delivers a message to itself locally, on a later turn, without the transport', async () => {
    const [a] = await startCluster(['1', '2']);
    const body = { type: 'probe.ping', n: 7, list: [1] };
    a!.probe.env.send('1', body);
    expect(a!.probe.received).toEqual([]); // never re-entrant: delivered on a later turn
    await until('self-delivery', () => a!.probe.received.length === 1);
    expect(a!.probe.received[0]!.body).toEqual(body);
    expect(a!.batchesReceived).toBe(0);
    expect(a!.host.transport.stats().frames).toBe(0);
  });

  it('sends an envelope larger than a batch in a frame of its own', async () => {
    const [a, b] = await startCluster(['1', '2'], { runtime: { transport: { maxBatchBytes: 1_000, maxEnvelopeBytes: 10_000 } } });
    a!.probe.env.send('2', { type: 'probe.ping', n: 1 });
    a!.probe.env.send('2', { type: 'probe.ping', n: 2, pad: 'x'.repeat(5_000) });
    a!.probe.env.send('2', { type: 'probe.ping', n: 3 });
    await until('all 3 delivered', () => b!.probe.received.length === 3);
    expect(b!.probe.from('1')).toEqual([1, 2, 3]);
    expect(b!.batchesReceived).toBe(3);
    expect(eventsOf(a!, 'msg.dropped')).toEqual([]);
  });

  it('drops what cannot cross the wire: too large, or not serializable', async () => {
    const [a, b] = await startCluster(['1', '2'], { runtime: { transport: { maxBatchBytes: 1_000, maxEnvelopeBytes: 1_500 } } });
    a!.probe.env.send('2', { type: 'probe.ping', n: 1, pad: 'x'.repeat(2_000) });
    a!.probe.env.send('2', { type: 'probe.ping', n: 2, big: 1n });
    a!.probe.env.send('2', { type: 'probe.ping', n: 3 });
    await until('2 drops and 1 delivery', () => eventsOf(a!, 'msg.dropped').length === 2 && b!.probe.received.length === 1);
    expect(eventsOf(a!, 'msg.dropped').map((e) => [(e.body as Body).n, String(e.reason).split(':')[0]])).toEqual([
      [1, 'too large'],
      [2, 'unserializable'],
    ]);
    expect(b!.probe.from('1')).toEqual([3]);
  });

  it('turns a peer that is down into msg.dropped events, not exceptions', async () => {
    const down = await deadUrl();
    const [a] = await startCluster(['1'], { extraPeers: [{ id: '9', url: down }] });
    expect(a!.host.members()).toEqual(['1', '9']);
    for (let n = 0; n < 3; n++) a!.probe.env.send('9', { type: 'probe.ping', n });
    const replies: Body[] = [];
    a!.probe.env.rpc('9', { type: 'echo', echo: 1 }, 200, (r) => replies.push(r));
    await until('4 drops', () => eventsOf(a!, 'msg.dropped').length === 4);
    for (const e of eventsOf(a!, 'msg.dropped')) {
      expect(e).toMatchObject({ src: '1', dest: '9', stage: 'send' });
      expect(e.reason).toMatch(/^unreachable: /);
    }
    await until('rpc timeout', () => replies.length === 1);
    expect(replies[0]).toMatchObject({ type: 'error', code: 0 });
    expect(a!.host.transport.stats().failures).toBeGreaterThan(0);
  });

  it('drops a bad frame whole, says so, and keeps the socket for the next one', async () => {
    const [a] = await startCluster(['1', '2']);
    const ws = new WebSocket(`${a!.url.replace('http', 'ws')}/envelope`);
    try {
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send('{not json');
      ws.send(JSON.stringify([{ src: '2', dest: '1', body: { type: 'probe.ping', n: 1 }, extra: true }]));
      ws.send(JSON.stringify([{ src: '2', dest: '9', body: { type: 'probe.ping', n: 2 } }]));
      ws.send(JSON.stringify({ src: '2', dest: '1', body: { type: 'probe.ping', n: 3 } }));
      await until('the good frame', () => a!.probe.received.length === 1);
      expect(a!.probe.from('2')).toEqual([3]);
      const errors = eventsOf(a!, 'host.error').map((e) => String(e.error));
      expect(errors).toHaveLength(3);
      expect(errors[0]).toMatch(/not JSON/);
      expect(errors[1]).toMatch(/not an array of envelopes/);
      expect(errors[2]).toMatch(/addressed to 9, but this is node 1/);
      expect(ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      ws.terminate();
    }
  });

  it('refuses a socket on any other path', async () => {
    const [a] = await startCluster(['1']);
    const ws = new WebSocket(`${a!.url.replace('http', 'ws')}/elsewhere`);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).once('error', () => resolve(-1)));
    ws.terminate();
    expect(status).toBe(404);
  });

  it('dials a peer again after it restarted on the same address', async () => {
    const [a, b] = await startCluster(['1', '2']);
    a!.probe.env.send('2', { type: 'probe.ping', n: 1 });
    await until('first ping', () => b!.probe.received.length === 1);
    const url = new URL(b!.url);
    await b!.app.close();
    // Sends while the peer is gone are lost (and say so); none throws.
    a!.probe.env.send('2', { type: 'probe.ping', n: 2 });
    await until('drop while down', () => eventsOf(a!, 'msg.dropped').length >= 1);
    const [b2] = await startCluster(['2'], { listen: { port: Number(url.port) } });
    b2!.host.setPeers([{ id: '1', url: a!.url }, { id: '2', url: b2!.url }]);
    let n = 3;
    // The link backs off for at most a second after a failure; keep sending until one arrives.
    await until('a ping after the restart', () => {
      a!.probe.env.send('2', { type: 'probe.ping', n: n++ });
      return b2!.probe.received.length > 0;
    }, 5_000);
    expect(b2!.probe.received[0]!.body.n).toBeGreaterThanOrEqual(3);
  });

  it('drops an envelope for a node outside the roster', async () => {
    const [a] = await startCluster(['1', '2']);
    a!.probe.env.send('nobody', { type: 'probe.ping' });
    await until('drop event', () => eventsOf(a!, 'msg.dropped').length === 1);
    expect(eventsOf(a!, 'msg.dropped')[0]).toMatchObject({ dest: 'nobody', reason: 'unknown destination' });
  });

  it('does not build message events when nobody listens', async () => {
    let probe!: Probe;
    const host = new LiveHost({ id: '1', protocols: [(env) => (probe = new Probe(env))] });
    host.start();
    try {
      const seen: StampedEvent[] = [];
      host.subscribe((e) => seen.push(e), ['probe.']);
      expect(host.events.wants('msg.sent')).toBe(false);
      probe.env.send('1', { type: 'probe.ping', n: 1 });
      await until('self-delivery', () => seen.length === 1);
      // Had msg.sent and msg.received been built, they would have taken seq 1 and 2.
      expect(seen[0]).toMatchObject({ type: 'probe.got', seq: 1 });
    } finally {
      await host.stop();
    }
  });
});
