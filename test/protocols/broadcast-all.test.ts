import { describe, expect, it } from 'vitest';
import { broadcastAll, type BroadcastAll } from '../../src/protocols/broadcast-all.js';
import { ErrorCode } from '../../src/protocols/envelope.js';
import { TestNet } from '../helpers/test-net.js';
import { ManualHost } from '../helpers/manual-host.js';

const FIVE = ['1', '2', '3', '4', '5'];

function received(net: TestNet, id: string): string[] {
  return net.eventsOf('broadcast_all.received').filter((e) => e['id'] === id).map((e) => e.node).sort();
}

describe('one-to-all broadcast', () => {
  it('sends the message to every node and reports that all acknowledged', () => {
    const net = new TestNet(FIVE, () => [broadcastAll()], { latencyMs: 10 });
    const reply = net.ask('2', { type: 'broadcast_all.send', message: 'hello' });
    expect(reply).toMatchObject({ type: 'broadcast_all.send_ok', message: 'hello', acked: ['1', '3', '4', '5'], missing: [], rtt_ms: 20 });
    const id = reply.id as string;
    expect(received(net, id)).toEqual(FIVE);
    for (const node of FIVE) {
      expect(net.protocol<BroadcastAll>(node, 'broadcast_all').log()).toMatchObject([{ id, message: 'hello', origin: '2' }]);
    }
    // one message and one acknowledgement per peer, nothing more
    expect(net.sent).toHaveLength(8);
  });

  it('reports a dead node as missing after retrying it, and the others still get the message', () => {
    const net = new TestNet(FIVE, () => [broadcastAll({ ackTimeoutMs: 100, attempts: 2 })], { latencyMs: 10 });
    net.crash('4');
    const reply = net.ask('1', { type: 'broadcast_all.send', message: { n: 1 } });
    expect(reply).toMatchObject({ acked: ['2', '3', '5'], missing: ['4'] });
    expect(net.sent.filter((m) => m.dest === '4')).toHaveLength(2);
    expect(received(net, reply.id as string)).toEqual(['1', '2', '3', '5']);
    expect(net.eventsOf('broadcast_all.done', 0, '1')).toMatchObject([{ missing: ['4'] }]);
  });

  it('records a message once although every message arrives twice, out of order', () => {
    const net = new TestNet(FIVE, () => [broadcastAll()], { route: (m) => (m.body.type === 'broadcast_all.msg' ? [9, 2] : [3]) });
    const first = net.request('3', { type: 'broadcast_all.send', message: 'a' });
    const second = net.request('3', { type: 'broadcast_all.send', message: 'a' }); // same text: a new broadcast
    net.runUntil(() => first.reply !== undefined && second.reply !== undefined);
    net.run(1_000);
    expect(first.reply?.id).not.toBe(second.reply?.id);
    expect(received(net, first.reply?.id as string)).toEqual(FIVE);
    expect(received(net, second.reply?.id as string)).toEqual(FIVE);
    expect(net.protocol<BroadcastAll>('5', 'broadcast_all').log()).toHaveLength(2);
  });

  it('answers at once with nobody to ask on a one-node cluster, and rejects a send without message', () => {
    const host = ManualHost.start('1', ['1'], [broadcastAll()]);
    host.deliver('c1', { type: 'broadcast_all.send', msg_id: 1, message: 'solo' });
    host.deliver('c1', { type: 'broadcast_all.send', msg_id: 2 });
    host.deliver('c1', { type: 'broadcast_all.read', msg_id: 3 });
    expect(host.takeSent().map((m) => m.body)).toMatchObject([
      { type: 'broadcast_all.send_ok', acked: [], missing: [], in_reply_to: 1 },
      { type: 'error', code: ErrorCode.MalformedRequest, in_reply_to: 2 },
      { type: 'broadcast_all.read_ok', messages: [{ message: 'solo', origin: '1' }], in_reply_to: 3 },
    ]);
  });
});
