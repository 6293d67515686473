import { describe, expect, it } from 'vitest';
import { MessageLog } from '../../src/live/state/message-log.js';

describe('message log', () => {
  it('keeps messages oldest first with increasing sequence numbers', () => {
    const log = new MessageLog();
    log.append('a', 'one', new Date(0));
    log.append('b', { n: 2 }, new Date(1000));
    expect(log.list()).toEqual([
      { seq: 1, from: 'a', payload: 'one', received_at: '1970-01-01T00:00:00.000Z' },
      { seq: 2, from: 'b', payload: { n: 2 }, received_at: '1970-01-01T00:00:01.000Z' },
    ]);
  });

  it('drops the oldest beyond its limit and counts them', () => {
    const log = new MessageLog(2);
    for (const p of ['x', 'y', 'z']) log.append('a', p);
    expect(log.list().map((m) => m.payload)).toEqual(['y', 'z']);
    expect(log.dropped).toBe(1);
    expect(log.list()[1]?.seq).toBe(3);
  });

  it('tells subscribers about each new message until they unsubscribe', () => {
    const log = new MessageLog();
    const seen: unknown[] = [];
    const unsubscribe = log.subscribe((m) => seen.push(m.payload));
    log.append('a', 1);
    unsubscribe();
    log.append('a', 2);
    expect(seen).toEqual([1]);
  });
});
