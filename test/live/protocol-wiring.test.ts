/**
 * The small pure pieces of the protocol wiring: error codes to HTTP, which
 * events become log lines, and which node a handout's `from` names.
 */
import { describe, expect, it } from 'vitest';
import { errorBody } from '../../src/protocols/envelope.js';
import { protocolError } from '../../src/live/protocol-http.js';
import { describeEvent, originOf, ringOrigin } from '../../src/live/protocols.js';

const stamp = { node: '1', time: 0, seq: 1 };

describe('protocol errors as HTTP answers', () => {
  it.each([
    [0, 504],
    [13, 504],
    [11, 503],
    [12, 400],
    [20, 404],
    [1, 404],
    [10, 501],
    [22, 409],
    [99, 500],
  ])('code %i → HTTP %i', (code, status) => {
    expect(protocolError(errorBody(code, 'why')).statusCode).toBe(status);
  });

  it('marks timeouts and crashes indefinite and keeps the extra fields', () => {
    const err = protocolError(errorBody(0, 'no reply within 5000 ms', { in_reply_to: 1, token: 't', round: 'r' }));
    expect(err.error).toBe('timeout');
    expect(err.detail).toBe('no reply within 5000 ms');
    expect(err.extra).toEqual({ token: 't', round: 'r', code: 0, indefinite: true });
    expect(protocolError(errorBody(12, 'bad')).extra).toEqual({ code: 12 });
  });
});

describe('protocol events as log lines', () => {
  it('logs leader changes, deaths and ring skips, and tells SWIM from the registry', () => {
    expect(describeEvent({ ...stamp, type: 'leader.changed', leader: '4', previous: '5', epoch: 3 })).toEqual({ level: 'info', text: 'leader is now 4 (was 5)' });
    expect(describeEvent({ ...stamp, type: 'member.dead', member: '5', incarnation: 1, via: '2' })?.text).toBe('swim: member 5 declared dead (via 2)');
    expect(describeEvent({ ...stamp, type: 'member.dead', member: '5', last_seen_ms_ago: 10200 })?.text).toBe('registry: member 5 expired after 10200 ms of silence');
    expect(describeEvent({ ...stamp, type: 'ring.skipped', token: 't', round: 'r', skipped: '3' })).toEqual({ level: 'warn', text: 'ring: node 3 did not answer, skipped (token t)' });
    expect(describeEvent({ ...stamp, type: 'broadcast_all.done', id: 'x', acked: ['2'], missing: [] })).toBeUndefined();
    expect(describeEvent({ ...stamp, type: 'token.seen' })).toBeUndefined();
  });
});

describe("the node a handout's 'from' names", () => {
  const roster = [
    { id: '1', url: 'http://192.168.10.11:5000' },
    { id: '2', url: 'http://192.168.10.12:5000' },
    { id: '3', url: 'http://127.0.0.1:5003' },
    { id: '4', url: 'http://127.0.0.1:5004' },
  ];
  it('maps an id, a URL, host:port or a unique address to the roster id', () => {
    expect(originOf('2', roster)).toBe('2');
    expect(originOf('192.168.10.11', roster)).toBe('1');
    expect(originOf('http://127.0.0.1:5004', roster)).toBe('4');
    expect(originOf('127.0.0.1:5003', roster)).toBe('3');
  });
  it('leaves an ambiguous or unknown address as it is', () => {
    expect(originOf('127.0.0.1', roster)).toBe('127.0.0.1');
    expect(originOf('laptop', roster)).toBe('laptop');
  });
});

describe('which POST /message continues a ring round', () => {
  const roster = [
    { id: '1', url: 'http://192.168.10.11:5000' },
    { id: '2', url: 'http://192.168.10.12:5000' },
    { id: '3', url: 'http://192.168.10.13:5000' },
  ];
  it('a message from the node before, from itself, or from a stranger does', () => {
    expect(ringOrigin('192.168.10.11', '2', roster)).toBe('1');
    expect(ringOrigin('3', '1', roster)).toBe('3'); // the ring wraps round
    expect(ringOrigin('2', '2', roster)).toBe('2');
    expect(ringOrigin('laptop', '2', roster)).toBe('laptop');
  });
  it("another roster node's message is a broadcast, not a ring hop", () => {
    expect(ringOrigin('192.168.10.13', '2', roster)).toBeUndefined();
    expect(ringOrigin('1', '3', roster)).toBeUndefined();
  });
});
