import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/event-queue.js';
import { Rng } from '../../src/sim/rng.js';

describe('EventQueue', () => {
  it('pops in (time, seq) order, whatever the order of pushes', () => {
    const q = new EventQueue<{ time: number; seq: number }>();
    const rng = Rng.stream(3, 'heap');
    const items = Array.from({ length: 2000 }, (_, seq) => ({ time: rng.int(50), seq }));
    for (const item of rng.shuffle([...items])) q.push(item);
    expect(q.size).toBe(2000);
    const out: Array<{ time: number; seq: number }> = [];
    for (let it = q.pop(); it; it = q.pop()) out.push(it);
    expect(out).toEqual([...items].sort((a, b) => a.time - b.time || a.seq - b.seq));
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
  });
});
