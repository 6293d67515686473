import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import type { StampedEvent } from '../../src/protocols/env.js';
import { registerRuntime } from '../../src/live/host.js';
import { eventsUrl, subscribe, type Subscription } from '../../src/live/sse-client.js';
import { startCluster, stopAllClusters, until } from './cluster.js';

const apps: FastifyInstance[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  const open = subscriptions.splice(0);
  for (const s of open) s.close();
  await Promise.all(open.map((s) => s.closed));
  await stopAllClusters();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});


/** Subscribes and waits until the connection is open, so no event is missed. */
async function watch(url: string, types?: string[]) {
  const got: StampedEvent[] = [];
  let opened = 0;
  const sub = subscribe(url, (e) => got.push(e), { types, minBackoffMs: 20, onStatus: (s) => s === 'open' && opened++ });
  subscriptions.push(sub);
  await until('stream open', () => opened === 1);
  return { got, sub, opens: () => opened };
}

describe('GET /events', () => {
  it('streams stamped events, filtered by type prefix', async () => {
    const [a, b] = await startCluster(['1', '2']);
    const probes = await watch(b!.url, ['probe.']);
    const everything = await watch(b!.url);
    a!.probe.env.send('2', { type: 'probe.ping', n: 1 });
    a!.probe.env.send('2', { type: 'probe.ping', n: 2 });
    await until('two probe events', () => probes.got.length === 2);
    expect(probes.got).toMatchObject([
      { type: 'probe.got', node: '2', from: '1', n: 1 },
      { type: 'probe.got', node: '2', from: '1', n: 2 },
    ]);
    expect(probes.got[1]!.seq).toBeGreaterThan(probes.got[0]!.seq);
    expect(typeof probes.got[0]!.time).toBe('number');
    await until('unfiltered stream has message events too', () => everything.got.some((e) => e.type === 'msg.received'));
    expect(everything.got.filter((e) => e.type === 'probe.got')).toEqual(probes.got);
  });

  it('accepts several prefixes', async () => {
    const [a, b] = await startCluster(['1', '2']);
    const w = await watch(b!.url, ['probe.', 'faults.']);
    await request(`${b!.url}/admin/faults`, { method: 'DELETE' }).then((r) => r.body.dump());
    a!.probe.env.send('2', { type: 'probe.ping', n: 1 });
    await until('both kinds', () => w.got.length === 2);
    expect(w.got.map((e) => e.type).sort()).toEqual(['faults.changed', 'probe.got']);
  });

  it('sends heartbeat comments on an idle stream', async () => {
    const [a] = await startCluster(['1'], { runtime: { events: { heartbeatMs: 20 } } });
    const res = await request(eventsUrl(a!.url));
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if (text.includes(': heartbeat')) break;
    }
    expect(text).toContain(': heartbeat\n\n');
  });

  it('forgets a subscriber whose client went away', async () => {
    const [a] = await startCluster(['1']);
    const before = a!.host.events.subscriberCount;
    const w = await watch(a!.url);
    expect(a!.host.events.subscriberCount).toBe(before + 1);
    w.sub.close();
    await w.sub.closed;
    await until('server-side unsubscribe', () => a!.host.events.subscriberCount === before);
  });

  it('rejects an unknown query parameter with 400 JSON', async () => {
    const [a] = await startCluster(['1']);
    const res = await request(`${a!.url}/events?type=msg`);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ error: 'Bad Request', detail: expect.any(String) });
  });

  it('ends open streams when the server closes, without hanging the close', async () => {
    const [a] = await startCluster(['1']);
    const res = await request(eventsUrl(a!.url));
    const drained = (async () => {
      let text = '';
      for await (const chunk of res.body) text += chunk.toString();
      return text;
    })();
    await a!.app.close();
    expect(await drained).toMatch(/^: distlab event stream/);
    expect(a!.host.isRunning).toBe(false);
  });
});

describe('SSE client', () => {
  async function startNode(port: number): Promise<{ app: FastifyInstance; url: string }> {
    const app = Fastify({ logger: false });
    const host = registerRuntime(app, { id: '1', protocols: [] });
    const url = await app.listen({ host: '127.0.0.1', port });
    host.start();
    apps.push(app);
    return { app, url };
  }

  it('reconnects with backoff when the node restarts', async () => {
    const first = await startNode(0);
    const statuses: string[] = [];
    const got: StampedEvent[] = [];
    const sub = subscribe(first.url, (e) => got.push(e), { types: ['faults.'], minBackoffMs: 20, onStatus: (s) => statuses.push(s) });
    subscriptions.push(sub);
    await until('open', () => statuses.includes('open'));
    await first.app.close();
    apps.splice(apps.indexOf(first.app), 1);
    await until('lost', () => statuses.includes('lost'));

    const second = await startNode(Number(new URL(first.url).port));
    await until('open again', () => statuses.filter((s) => s === 'open').length === 2);
    await request(`${second.url}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"drop":0.5}' }).then((r) =>
      r.body.dump(),
    );
    await until('event from the restarted node', () => got.length === 1);
    expect(got[0]).toMatchObject({ type: 'faults.changed', rules: { drop: 0.5 } });
  });

  it('stops when its signal aborts', async () => {
    const node = await startNode(0);
    const controller = new AbortController();
    let opened = false;
    const sub = subscribe(node.url, () => {}, { signal: controller.signal, onStatus: (s) => s === 'open' && (opened = true) });
    await until('open', () => opened);
    controller.abort();
    await sub.closed;
  });
});
