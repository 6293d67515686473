import { describe, expect, it } from 'vitest';
import { gossip, type Gossip } from '../../src/protocols/gossip.js';
import { NodeRuntime } from '../../src/protocols/runtime.js';
import { ManualHost } from '../helpers/manual-host.js';

const CLUSTER = ['1', '2', '3', '4'];

function node(config: Parameters<typeof gossip>[0] = {}, id = '1') {
  const host = ManualHost.start(id, CLUSTER, [gossip({ intervalMs: 100, jitter: 0, ...config })]);
  const g = host.runtime.protocol<Gossip>('gossip')!;
  return { host, g };
}

describe('gossip', () => {
  it('acknowledges an update only once the new version is durable, and announces it', () => {
    const { host, g } = node();
    host.deliver('c1', { type: 'gossip.update', msg_id: 1 });
    expect(host.takeSent()).toEqual([]); // not yet durable
    host.advance(0);
    expect(host.takeSent()).toEqual([{ src: '1', dest: 'c1', body: { type: 'gossip.update_ok', version: 1, in_reply_to: 1 } }]);
    expect(host.storage.get('gossip/version')).toBe(1);
    expect(host.events).toEqual([{ type: 'gossip.learned', origin: '1', version: 1 }]);
    expect(g.status()).toEqual({ states: { '1': 1 } });
  });

  it('answers a read with its version map', () => {
    const { host } = node();
    host.deliver('2', { type: 'gossip.push', states: { '3': 4 } });
    host.deliver('c1', { type: 'gossip.read', msg_id: 9 });
    expect(host.takeSent()).toEqual([{ src: '1', dest: 'c1', body: { type: 'gossip.read_ok', states: { '1': 0, '3': 4 }, in_reply_to: 9 } }]);
  });

  it('merges a digest by taking the higher version of each entry, and answers with what the sender lacks', () => {
    const { host, g } = node();
    host.deliver('2', { type: 'gossip.push', states: { '2': 3, '3': 5 } });
    host.events.length = 0;
    host.deliver('4', { type: 'gossip.digest', states: { '2': 7, '3': 1, '4': 2 } });
    expect(g.status().states).toEqual({ '1': 0, '2': 7, '3': 5, '4': 2 });
    expect(host.events).toEqual([
      { type: 'gossip.learned', origin: '2', version: 7 },
      { type: 'gossip.learned', origin: '4', version: 2 },
    ]);
    expect(host.takeSent()).toEqual([{ src: '1', dest: '4', body: { type: 'gossip.digest_ok', states: { '1': 0, '3': 5 } } }]);
  });

  it('stays silent after a digest that teaches the sender nothing', () => {
    const { host } = node();
    host.deliver('2', { type: 'gossip.digest', states: { '1': 0, '2': 1 } });
    expect(host.takeSent()).toEqual([]);
  });

  it('ignores malformed entries', () => {
    const { host, g } = node();
    host.deliver('2', { type: 'gossip.push', states: { '2': -1, '3': 'x', '4': 1.5, '5': 2 } });
    host.deliver('2', { type: 'gossip.push', states: 'nonsense' });
    expect(g.status().states).toEqual({ '1': 0, '5': 2 });
  });

  it('gossips its whole map to `fanout` distinct random peers every interval', () => {
    const { host } = node({ fanout: 2 });
    host.advance(99);
    expect(host.takeSent()).toEqual([]);
    host.advance(1);
    const round1 = host.takeSent();
    expect(round1).toHaveLength(2);
    expect(new Set(round1.map((m) => m.dest)).size).toBe(2);
    for (const m of round1) {
      expect(m.dest).not.toBe('1');
      expect(m.body).toEqual({ type: 'gossip.digest', states: { '1': 0 } });
    }
    host.advance(100);
    expect(host.takeSent()).toHaveLength(2);
  });

  it('sends to every peer when the fanout covers them all', () => {
    const { host } = node({ fanout: 10 });
    host.advance(100);
    expect(host.takeSent().map((m) => m.dest).sort()).toEqual(['2', '3', '4']);
  });

  it('in push mode says nothing until it knows an update, then pushes only updates', () => {
    const { host } = node({ mode: 'push', fanout: 1 });
    host.advance(300);
    expect(host.takeSent()).toEqual([]);
    host.deliver('3', { type: 'gossip.push', states: { '3': 2 } });
    host.advance(100);
    const sent = host.takeSent();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toEqual({ type: 'gossip.push', states: { '3': 2 } });
  });

  it('spreads its first round over the interval when jittered', () => {
    const firsts = [1, 2, 3, 4, 5].map((seed) => {
      const host = new ManualHost('1', CLUSTER, seed);
      host.runtime = new NodeRuntime(host, [gossip({ intervalMs: 100, jitter: 1 })]);
      host.runtime.start();
      let t = 0;
      while (host.sent.length === 0 && t < 200) {
        host.advance(1);
        t++;
      }
      return t;
    });
    for (const t of firsts) expect(t).toBeLessThanOrEqual(100);
    expect(new Set(firsts).size).toBeGreaterThan(1);
  });

  it('resumes from its durable version after a restart, never reusing a number', () => {
    const host = new ManualHost('1', CLUSTER);
    host.storage.put('gossip/version', 4);
    host.runtime = new NodeRuntime(host, [gossip()]);
    host.runtime.start();
    host.deliver('c1', { type: 'gossip.update', msg_id: 1 });
    host.advance(0);
    expect(host.takeSent().at(-1)?.body).toMatchObject({ type: 'gossip.update_ok', version: 5 });
  });

  it('adopts a higher version of itself heard from a peer', () => {
    const { host, g } = node();
    host.deliver('2', { type: 'gossip.push', states: { '1': 6 } });
    host.advance(0);
    expect(host.storage.get('gossip/version')).toBe(6);
    host.deliver('c1', { type: 'gossip.update', msg_id: 1 });
    host.advance(0);
    expect(host.takeSent().at(-1)?.body).toMatchObject({ type: 'gossip.update_ok', version: 7 });
    expect(g.status().states['1']).toBe(7);
  });

  it('answers a digest from a client even when it has nothing to add', () => {
    const { host } = node();
    host.deliver('c1', { type: 'gossip.digest', msg_id: 3, states: { '1': 0 } });
    expect(host.takeSent()).toEqual([{ src: '1', dest: 'c1', body: { type: 'gossip.digest_ok', states: {}, in_reply_to: 3 } }]);
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => gossip({ fanout: 0 })).toThrow(RangeError);
    expect(() => gossip({ intervalMs: 0 })).toThrow(RangeError);
    expect(() => gossip({ jitter: 2 })).toThrow(RangeError);
  });
});
