import { describe, expect, it } from 'vitest';
import { structuredBroadcast } from '../../src/protocols/broadcast-structured.js';
import { ErrorCode } from '../../src/protocols/envelope.js';
import { ring, type Ring } from '../../src/protocols/ring.js';
import { TestNet } from '../helpers/test-net.js';

const FIVE = ['1', '2', '3', '4', '5'];

describe('structured broadcast', () => {
  it('carries the message to every node in turn and returns the visited list to the initiator', () => {
    const net = new TestNet(FIVE, () => [structuredBroadcast()], { latencyMs: 10 });
    const reply = net.ask('3', { type: 'structured_broadcast.start', message: 'hi all' });
    expect(reply).toMatchObject({
      type: 'structured_broadcast.start_ok',
      message: 'hi all',
      visited: ['3', '4', '5', '1', '2'],
      skipped: [],
      rtt_ms: 50,
    });
    const seen = net.eventsOf('structured_broadcast.seen');
    expect(seen.map((e) => e.node)).toEqual(['3', '4', '5', '1', '2']);
    expect(seen.every((e) => e['token'] === 'hi all')).toBe(true);
  });

  it('skips a dead node, reports it, and still returns to the initiator', () => {
    const net = new TestNet(FIVE, () => [structuredBroadcast({ hopTimeoutMs: 100 })]);
    net.crash('5');
    const reply = net.ask('1', { type: 'structured_broadcast.start', message: 'm' });
    expect(reply).toMatchObject({ visited: ['1', '2', '3', '4'], skipped: ['5'] });
    expect(net.eventsOf('structured_broadcast.skipped')).toMatchObject([{ node: '4', skipped: '5' }]);
  });

  it('runs beside the ring on the same nodes without mixing their logs', () => {
    const net = new TestNet(FIVE, () => [ring(), structuredBroadcast()]);
    const a = net.request('1', { type: 'ring.start', token: 't' });
    const b = net.request('1', { type: 'structured_broadcast.start', message: 'm' });
    const bad = net.request('1', { type: 'structured_broadcast.start', message: 7 });
    net.runUntil(() => a.reply !== undefined && b.reply !== undefined && bad.reply !== undefined);
    expect(a.reply).toMatchObject({ type: 'ring.start_ok', token: 't' });
    expect(b.reply).toMatchObject({ type: 'structured_broadcast.start_ok', message: 'm' });
    expect(bad.reply).toMatchObject({ type: 'error', code: ErrorCode.MalformedRequest });
    expect(net.eventsOf('token.seen')).toHaveLength(5);
    expect(net.eventsOf('structured_broadcast.seen')).toHaveLength(5);
    expect(net.protocol<Ring>('4', 'ring').log().map((e) => e.token)).toEqual(['t']);
    expect(net.protocol<Ring>('4', 'structured_broadcast').log().map((e) => e.token)).toEqual(['m']);
  });
});
