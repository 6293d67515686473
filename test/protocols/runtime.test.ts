import { describe, expect, it } from 'vitest';
import { echo } from '../../src/protocols/echo.js';
import { ErrorCode, compareIds, isDefinite, type Envelope } from '../../src/protocols/envelope.js';
import type { Env, Protocol } from '../../src/protocols/env.js';
import { ManualHost } from '../helpers/manual-host.js';

/** A probe protocol that lets a test call env methods from inside the node. */
class Probe implements Protocol {
  readonly name = 'probe';
  readonly handles = ['poke'];
  readonly received: Envelope[] = [];
  constructor(readonly env: Env) {}
  receive(msg: Envelope): void {
    this.received.push(msg);
  }
}

function probeHost(cluster = ['1', '2', '3']) {
  let probe!: Probe;
  const host = ManualHost.start('1', cluster, [
    (env) => (probe = new Probe(env)),
    echo,
  ]);
  return { host, probe };
}

describe('NodeRuntime', () => {
  it('routes a request to the protocol that handles its type and answers with in_reply_to', () => {
    const { host } = probeHost();
    host.deliver('c1', { type: 'echo', msg_id: 7, echo: 'hi' });
    expect(host.takeSent()).toEqual([{ src: '1', dest: 'c1', body: { type: 'echo_ok', echo: 'hi', in_reply_to: 7 } }]);
  });

  it('answers an unknown request type with a definite not-supported error', () => {
    const { host } = probeHost();
    host.deliver('2', { type: 'nonsense', msg_id: 3 });
    const [out] = host.takeSent();
    expect(out?.body).toMatchObject({ type: 'error', code: ErrorCode.NotSupported, in_reply_to: 3 });
    expect(isDefinite(ErrorCode.NotSupported)).toBe(true);
  });

  it('does not answer unknown messages that carry no msg_id', () => {
    const { host } = probeHost();
    host.deliver('2', { type: 'nonsense' });
    expect(host.takeSent()).toEqual([]);
  });

  it('delivers an rpc reply to its callback exactly once and cancels the timeout', () => {
    const { host, probe } = probeHost();
    const replies: unknown[] = [];
    const id = probe.env.rpc('2', { type: 'echo', echo: 1 }, 100, (r) => replies.push(r));
    expect(host.takeSent()[0]?.body).toEqual({ type: 'echo', echo: 1, msg_id: id });
    host.deliver('2', { type: 'echo_ok', echo: 1, in_reply_to: id });
    host.deliver('2', { type: 'echo_ok', echo: 1, in_reply_to: id }); // duplicate: ignored
    host.advance(1000);
    expect(replies).toEqual([{ type: 'echo_ok', echo: 1, in_reply_to: id }]);
  });

  it('answers an rpc with an indefinite timeout error when no reply comes', () => {
    const { host, probe } = probeHost();
    const replies: Array<Record<string, unknown>> = [];
    probe.env.rpc('3', { type: 'echo' }, 250, (r) => replies.push(r));
    host.advance(249);
    expect(replies).toEqual([]);
    host.advance(1);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ type: 'error', code: ErrorCode.Timeout });
    expect(isDefinite(ErrorCode.Timeout)).toBe(false);
  });

  it('ignores a reply that comes from a node other than the one asked', () => {
    const { host, probe } = probeHost();
    const replies: unknown[] = [];
    const id = probe.env.rpc('2', { type: 'echo' }, 100, (r) => replies.push(r));
    host.deliver('3', { type: 'echo_ok', in_reply_to: id });
    expect(replies).toEqual([]);
  });

  it('gives each protocol its own storage slice', () => {
    const { host, probe } = probeHost();
    probe.env.storage.put('k', 42);
    expect(probe.env.storage.get('k')).toBe(42);
    expect(host.storage.keys()).toEqual(['probe/k']);
    expect(probe.env.storage.keys()).toEqual(['k']);
  });

  it('lists peers without itself, in roster order', () => {
    const { probe } = probeHost(['3', '1', '2']);
    expect(probe.env.peers()).toEqual(['3', '2']);
  });

  it('cancels timers and drops deliveries after stop', () => {
    const { host, probe } = probeHost();
    let fired = 0;
    probe.env.setTimer(10, () => fired++);
    host.runtime.stop();
    host.advance(100);
    host.deliver('2', { type: 'poke' });
    expect(fired).toBe(0);
    expect(probe.received).toEqual([]);
  });

  it('delivers a message to itself locally, on a later turn, and never to the network', () => {
    const { host, probe } = probeHost();
    probe.env.send('1', { type: 'poke', n: 1 });
    const replies: unknown[] = [];
    probe.env.rpc('1', { type: 'echo', echo: 2 }, 100, (r) => replies.push(r));
    expect(probe.received).toEqual([]); // never inside the send
    expect(replies).toEqual([]);
    host.advance(0);
    expect(probe.received.map((m) => [m.src, m.dest, m.body])).toEqual([['1', '1', { type: 'poke', n: 1 }]]);
    expect(replies).toEqual([{ type: 'echo_ok', echo: 2, in_reply_to: 1 }]);
    expect(host.takeSent()).toEqual([]);
  });

  it('loses a message to itself that was still on its way when the node stopped', () => {
    const { host, probe } = probeHost();
    probe.env.send('1', { type: 'poke' });
    host.runtime.stop();
    host.advance(10);
    expect(probe.received).toEqual([]);
  });

  it('refuses two protocols claiming one message type', () => {
    expect(() => ManualHost.start('1', ['1'], [echo, (env) => ({ ...new Probe(env), name: 'x', handles: ['echo'], receive() {} })])).toThrow(/claimed by both/);
  });
});

describe('compareIds', () => {
  it('orders integer ids numerically and others as text', () => {
    expect(['10', '9', '2', '1'].sort(compareIds)).toEqual(['1', '2', '9', '10']);
    expect(['n2', 'n10', 'n1'].sort(compareIds)).toEqual(['n1', 'n10', 'n2']);
  });
});

describe('a stopped runtime', () => {
  it('transmits nothing, even from a durability callback that fires after stop', () => {
    const { host, probe } = probeHost();
    probe.env.storage.put('k', 1, () => probe.env.send('2', { type: 'poke' }));
    host.runtime.stop();
    host.advance(10);
    expect(host.takeSent()).toEqual([]);
  });
});
