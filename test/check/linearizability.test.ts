/**
 * The linearizability checker on small hand-built histories, one rule each.
 */
import { describe, expect, it } from 'vitest';
import { HistoryParseError, HistoryRecorder, pairOperations } from '../../src/check/history.js';
import { checkLinearizability, formatViolation, withoutUnobservedIndefiniteWrites } from '../../src/check/linearizability.js';
import { events } from './helpers.js';

const valid = (...lines: string[]) => checkLinearizability(events(...lines)).valid;

describe('register model', () => {
  it('accepts a read of the last completed write and rejects a stale one', () => {
    expect(valid('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 ok read 1')).toBe(true);
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 1')).toBe(false);
  });

  it('starts absent: a read of nil before any write is fine, after a completed write it is not', () => {
    expect(valid('2 invoke read', '2 ok read null', '1 invoke write 1', '1 ok write 1')).toBe(true);
    expect(valid('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 ok read null')).toBe(false);
  });

  it('lets a read concurrent with a write see either value', () => {
    const around = (seen: string) => valid('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '2 invoke read', `2 ok read ${seen}`, '1 ok write 2');
    expect(around('1')).toBe(true);
    expect(around('2')).toBe(true);
    expect(around('3')).toBe(false);
  });

  it('orders by real time: once a read saw the new value, a later read cannot see the old one', () => {
    const h = ['1 invoke write 1', '1 ok write 1', '1 invoke write 2', '2 invoke read', '2 ok read 2', '3 invoke read', '3 ok read 1', '1 ok write 2'];
    expect(valid(...h)).toBe(false);
    // the same reads overlapping each other may be ordered either way
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '2 invoke read', '3 invoke read', '2 ok read 2', '3 ok read 1', '1 ok write 2')).toBe(true);
  });

  it('drops a failed operation: it did not happen', () => {
    expect(valid('1 invoke write 1', '1 fail write', '2 invoke read', '2 ok read null')).toBe(true);
    expect(valid('1 invoke write 1', '1 fail write', '2 invoke read', '2 ok read 1')).toBe(false);
  });

  it('treats info as maybe applied, at any time after its invoke', () => {
    // the write may have happened ...
    expect(valid('1 invoke write 1', '1 info write', '2 invoke read', '2 ok read 1')).toBe(true);
    // ... or not ...
    expect(valid('1 invoke write 1', '1 info write', '2 invoke read', '2 ok read null')).toBe(true);
    // ... even long after the client gave up on it ...
    expect(valid('1 invoke write 1', '1 info write', '2 invoke read', '2 ok read null', '2 invoke read', '2 ok read 1')).toBe(true);
    // ... but once seen it stays: it happened once, at one instant
    expect(valid('1 invoke write 1', '1 info write', '2 invoke read', '2 ok read 1', '2 invoke read', '2 ok read null')).toBe(false);
    // and never before it was invoked
    expect(valid('2 invoke read', '2 ok read 1', '1 invoke write 1', '1 info write')).toBe(false);
  });

  it('treats an operation that never completed like info', () => {
    expect(valid('1 invoke write 1', '2 invoke read', '2 ok read 1')).toBe(true);
    expect(valid('1 invoke write 1', '2 invoke read', '2 ok read 1', '2 invoke read', '2 ok read null')).toBe(false);
  });

  it('drops reads that timed out: they say nothing', () => {
    expect(valid('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 fail read', '2 invoke read', '2 info read', '2 invoke read', '2 ok read 1')).toBe(true);
    const r = checkLinearizability(events('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 info read'));
    expect(r.operations).toBe(1);
  });

  it('checks compare-and-set', () => {
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke cas [1,2]', '1 ok cas [1,2]', '2 invoke read', '2 ok read 2')).toBe(true);
    // a successful cas needs the expected value to be there
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke cas [3,2]', '1 ok cas [3,2]')).toBe(false);
    // an info cas applies only if the value matched when it ran
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke cas [1,2]', '1 info cas', '2 invoke read', '2 ok read 2')).toBe(true);
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke cas [3,2]', '1 info cas', '2 invoke read', '2 ok read 2')).toBe(false);
    // a failed cas did not happen
    expect(valid('1 invoke write 1', '1 ok write 1', '1 invoke cas [1,2]', '1 fail cas [1,2]', '2 invoke read', '2 ok read 1')).toBe(true);
  });

  it('finds the order a cas chain needs among concurrent operations', () => {
    // p1 cas 0->1, p2 cas 1->2, p3 write 0; all concurrent; the reads fix the order write, cas, cas
    const h = ['3 invoke write 0', '1 invoke cas [0,1]', '2 invoke cas [1,2]', '3 ok write 0', '1 ok cas [0,1]', '2 ok cas [1,2]', '4 invoke read', '4 ok read 2'];
    expect(valid(...h)).toBe(true);
  });

  it('checks keys independently', () => {
    expect(valid('1 invoke write @a 1', '1 ok write @a 1', '2 invoke read @b', '2 ok read @b null', '2 invoke read @a', '2 ok read @a 1')).toBe(true);
    const r = checkLinearizability(events('1 invoke write @a 1', '1 ok write @a 1', '2 invoke read @b', '2 ok read @b 1'));
    expect(r.valid).toBe(false);
    expect(r.partitions).toBe(2);
    expect(r.violation?.key).toBe('b');
  });

  it('orders by time when every event has one', () => {
    const h = events('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 ok read null');
    // in line order the read follows the write; by time it came first
    [10, 11, 1, 2].forEach((t, i) => ((h[i] as { time?: number }).time = t));
    expect(checkLinearizability(h).valid).toBe(true);
  });
});

describe('kv model', () => {
  it('checks get/put/append per key, starting from the empty string', () => {
    expect(valid('1 invoke append @x "a"', '1 ok append @x "a"', '1 invoke append @x "b"', '1 ok append @x "b"', '2 invoke get @x', '2 ok get @x "ab"', '2 invoke get @y', '2 ok get @y ""')).toBe(true);
    expect(valid('1 invoke append @x "a"', '1 ok append @x "a"', '1 invoke append @x "b"', '1 ok append @x "b"', '2 invoke get @x', '2 ok get @x "ba"')).toBe(false);
  });

  it('lets concurrent appends land in either order, but in one order for everyone', () => {
    const h = (first: string, second: string) =>
      valid('1 invoke append @x "a"', '2 invoke append @x "b"', '1 ok append @x "a"', '2 ok append @x "b"', '3 invoke get @x', `3 ok get @x ${first}`, '3 invoke get @x', `3 ok get @x ${second}`);
    expect(h('"ab"', '"ab"')).toBe(true);
    expect(h('"ba"', '"ba"')).toBe(true);
    expect(h('"ab"', '"ba"')).toBe(false);
  });

  it('put replaces and delete empties (an absent key reads as nil or "")', () => {
    expect(valid('1 invoke put @x "v"', '1 ok put @x "v"', '1 invoke append @x "w"', '1 ok append @x "w"', '2 invoke get @x', '2 ok get @x "vw"')).toBe(true);
    expect(valid('1 invoke put @x "v"', '1 ok put @x "v"', '1 invoke delete @x', '1 ok delete @x', '2 invoke get @x', '2 ok get @x null')).toBe(true);
    expect(valid('1 invoke put @x "v"', '1 ok put @x "v"', '1 invoke delete @x', '1 ok delete @x', '2 invoke get @x', '2 ok get @x "v"')).toBe(false);
  });
});

describe('the verdict', () => {
  it('explains a violation: the prefix, the state, the operation that cannot be placed', () => {
    const r = checkLinearizability(events('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 1'));
    const v = r.violation!;
    expect(v.prefix.map((op) => op.input)).toEqual([1, 2]);
    expect(v.state).toBe(2);
    expect(v.blocking.f).toBe('read');
    expect(v.stuck).toHaveLength(1);
    expect(v.stuck[0]?.why).toBe('read 1, but the register holds 2');
    expect(v.window.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6]);
    const text = formatViolation(r.model, v);
    expect(text).toContain('p2 read → 1 [lines 5-6]');
    expect(text).toContain('state after it: 2');
  });

  it('lists the blocking operation first, then the others that could have come next', () => {
    const r = checkLinearizability(events('1 invoke read', '2 invoke read', '3 invoke read', '3 ok read 5', '2 ok read 4', '1 ok read 6'));
    expect(r.violation!.prefix).toEqual([]);
    expect(r.violation!.blocking.process).toBe(3);
    expect(r.violation!.stuck.map((s) => [s.operation.process, s.why])).toEqual([
      [3, 'read 5, but the register holds nil'],
      [2, 'read 4, but the register holds nil'],
      [1, 'read 6, but the register holds nil'],
    ]);
  });

  it('keeps the window small in a long history', () => {
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) lines.push(`1 invoke write ${i}`, `1 ok write ${i}`, '2 invoke read', `2 ok read ${i}`);
    lines.push('2 invoke read', '2 ok read 7');
    const r = checkLinearizability(events(...lines));
    expect(r.valid).toBe(false);
    expect(r.violation!.prefix).toHaveLength(400);
    expect(r.violation!.window.length).toBeLessThanOrEqual(10);
    expect(r.violation!.window.at(-1)?.line).toBe(lines.length);
  });

  it('answers unknown when the search bound is reached, and true with room to search', () => {
    // many concurrent writes then reads force a real search
    const lines: string[] = [];
    for (let p = 0; p < 8; p++) lines.push(`${p} invoke write ${p}`);
    for (let p = 0; p < 8; p++) lines.push(`${p} ok write ${p}`);
    lines.push('9 invoke read', '9 ok read 3');
    const bounded = checkLinearizability(events(...lines), { maxStates: 3 });
    expect(bounded.valid).toBe('unknown');
    expect(bounded.reason).toMatch(/state limit/);
    expect(checkLinearizability(events(...lines)).valid).toBe(true);
    expect(checkLinearizability(events(...lines), { timeoutMs: -1 }).valid).toBe('unknown');
  });

  it('passes an empty history', () => {
    expect(checkLinearizability([]).valid).toBe(true);
  });

  it('rejects operations that do not fit the model, naming the line', () => {
    expect(() => checkLinearizability(events('1 invoke append 1', '1 ok append 1'), { model: 'register' })).toThrow(HistoryParseError);
    expect(() => checkLinearizability(events('1 invoke read', '1 ok read 1'), { model: 'kv' })).toThrow(/line 1: the kv model has no 'read'/);
  });
});

describe('indefinite writes nobody saw', () => {
  it('are left out of the search: exactly those, and the verdict is unchanged', () => {
    let t = 0;
    const rec = new HistoryRecorder({ clock: () => t++ });
    rec.invoke(1, 'put', { key: 'k', value: 'a' }).info('timed-out'); // read below: kept
    rec.invoke(2, 'put', { key: 'k', value: 'b' }).info('timed-out'); // read below: kept
    rec.invoke(3, 'put', { key: 'j', value: 'a' }).info('timed-out'); // 'a' was read on k, not on j: left out
    rec.invoke(5, 'put', { key: 'k', value: 'd' }).info('timed-out'); // never read: left out
    rec.invoke(6, 'put', { key: 'k', value: 'e' }).ok(); // acknowledged: always kept
    rec.invoke(4, 'get', { key: 'k' }).ok('a');
    rec.invoke(4, 'put', { key: 'k', value: 'c' }).ok();
    rec.invoke(4, 'get', { key: 'k' }).ok('b'); // linearizable: the indefinite put of b took effect late
    const kept = withoutUnobservedIndefiniteWrites(pairOperations(rec.events).operations);
    expect(kept.map((op) => `${op.key}:${op.f}=${String(op.input ?? op.output)}`)).toEqual([
      'k:put=a', 'k:put=b', 'k:put=e', 'k:get=a', 'k:put=c', 'k:get=b',
    ]);
    expect(checkLinearizability(rec.events).valid).toBe(true);

    const bad = new HistoryRecorder({ clock: () => t++ });
    bad.invoke(1, 'put', { key: 'k', value: 'x' }).ok();
    bad.invoke(2, 'put', { key: 'k', value: 'y' }).info('timed-out'); // never read: left out
    bad.invoke(1, 'get', { key: 'k' }).ok(null); // x was acknowledged: a violation either way
    expect(checkLinearizability(bad.events).valid).toBe(false);
  });

  it('keeps writes a cas expected, and every write on a key with appends', () => {
    let t = 0;
    const rec = new HistoryRecorder({ clock: () => t++ });
    rec.invoke(1, 'write', { value: 1 }).info('timed-out');
    rec.invoke(2, 'cas', { value: [1, 2] }).ok();
    const reg = withoutUnobservedIndefiniteWrites(pairOperations(rec.events).operations);
    expect(reg.map((op) => op.f)).toEqual(['write', 'cas']);
    expect(checkLinearizability(rec.events).valid).toBe(true);

    const app = new HistoryRecorder({ clock: () => t++ });
    app.invoke(1, 'put', { key: 'k', value: 'x' }).info('timed-out');
    app.invoke(2, 'append', { key: 'k', value: 'y' }).ok();
    app.invoke(2, 'get', { key: 'k' }).ok('xy');
    expect(withoutUnobservedIndefiniteWrites(pairOperations(app.events).operations)).toHaveLength(3);
    expect(checkLinearizability(app.events).valid).toBe(true);
  });

  it('keeps a history full of timeouts decidable', () => {
    // 40 clients each time out on a put of their own value while one reader
    // keeps seeing the last acknowledged value: without leaving the unseen
    // puts out, the search would have to try 2^40 subsets of them.
    let t = 0;
    const rec = new HistoryRecorder({ clock: () => t++ });
    rec.invoke(0, 'put', { key: 'k', value: 'base' }).ok();
    const pending = Array.from({ length: 40 }, (_, i) => rec.invoke(100 + i, 'put', { key: 'k', value: `v${i}` }));
    for (let i = 0; i < 20; i++) rec.invoke(1, 'get', { key: 'k' }).ok('base');
    for (const p of pending) p.info('timed-out');
    const result = checkLinearizability(rec.events, { maxStates: 10_000 });
    expect(result.valid).toBe(true);
  });
});
