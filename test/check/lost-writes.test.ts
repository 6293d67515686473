/**
 * The lost-writes checker: an acknowledged write that a later read cannot
 * see, unless something that could come between explains what the read saw.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../src/check/history.js';
import { checkLostWrites } from '../../src/check/lost-writes.js';
import { events, TESTDATA } from './helpers.js';

const lost = (...lines: string[]) => checkLostWrites(events(...lines));

describe('registers', () => {
  it('finds an acknowledged write that a later read does not see', () => {
    const r = lost('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 1');
    expect(r.valid).toBe(false);
    expect(r.lost).toHaveLength(1);
    expect(r.lost[0]?.write.input).toBe(2);
    expect(r.lost[0]?.read.output).toBe(1);
    expect(r.lost[0]?.why).toMatch(/returned 1, not 2/);
  });

  it('finds a write whose key reads as absent afterwards', () => {
    expect(lost('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 ok read null').valid).toBe(false);
  });

  it('passes when the read sees the write', () => {
    const r = lost('1 invoke write 1', '1 ok write 1', '2 invoke read', '2 ok read 1');
    expect(r).toMatchObject({ valid: true, acknowledgedWrites: 1, checkedWrites: 1, lost: [] });
  });

  it('lets a concurrent or indefinite write explain what the read saw', () => {
    // write 3 overlaps the read: it may have come after write 2
    expect(lost('1 invoke write 2', '1 ok write 2', '3 invoke write 3', '2 invoke read', '2 ok read 3', '3 ok write 3').valid).toBe(true);
    // an info write may have happened at any time after its invoke
    expect(lost('3 invoke write 3', '3 info write', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 3').valid).toBe(true);
    // but a write of another value does not explain it
    expect(lost('1 invoke write 2', '1 ok write 2', '3 invoke write 4', '2 invoke read', '2 ok read 3', '3 ok write 4').valid).toBe(false);
  });

  it('does not let a failed write or one that ended before explain anything', () => {
    expect(lost('3 invoke write 3', '3 fail write', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 3').valid).toBe(false);
    expect(lost('3 invoke write 3', '3 ok write 3', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 3').valid).toBe(false);
  });

  it('counts a successful cas as a write', () => {
    expect(lost('1 invoke write 1', '1 ok write 1', '1 invoke cas [1,5]', '1 ok cas [1,5]', '2 invoke read', '2 ok read 1').valid).toBe(false);
    expect(lost('1 invoke write 1', '1 ok write 1', '1 invoke cas [1,5]', '1 ok cas [1,5]', '2 invoke read', '2 ok read 5').valid).toBe(true);
  });

  it('stops asking for a write once a later acknowledged write certainly replaced it', () => {
    // write 2 replaced write 1 before the read; only write 2 can be lost here
    const r = lost('1 invoke write 1', '1 ok write 1', '1 invoke write 2', '1 ok write 2', '2 invoke read', '2 ok read 7');
    expect(r.lost.map((l) => l.write.input)).toEqual([2]);
  });

  it('cannot tell when no write is followed by a read', () => {
    expect(lost('1 invoke write 1', '1 ok write 1').valid).toBe('unknown');
    expect(lost('2 invoke read', '2 ok read null', '1 invoke write 1', '1 ok write 1').valid).toBe('unknown');
  });
});

describe('key-value appends', () => {
  it('finds an acknowledged append missing from a later read', () => {
    const r = lost('1 invoke append @k "a"', '1 ok append @k "a"', '1 invoke append @k "b"', '1 ok append @k "b"', '2 invoke get @k', '2 ok get @k "b"');
    expect(r.valid).toBe(false);
    expect(r.lost.map((l) => l.write.input)).toEqual(['a']);
    expect(r.lost[0]?.why).toMatch(/does not contain "a"/);
  });

  it('passes when every append is in the value, in any order', () => {
    expect(lost('1 invoke append @k "a"', '1 ok append @k "a"', '1 invoke append @k "b"', '1 ok append @k "b"', '2 invoke get @k', '2 ok get @k "ba"').valid).toBe(true);
  });

  it('lets a put or delete that could come between remove an append', () => {
    expect(lost('1 invoke append @k "a"', '1 ok append @k "a"', '3 invoke put @k "z"', '2 invoke get @k', '2 ok get @k "z"', '3 ok put @k "z"').valid).toBe(true);
    expect(lost('1 invoke append @k "a"', '1 ok append @k "a"', '3 invoke delete @k', '3 ok delete @k', '2 invoke get @k', '2 ok get @k ""').valid).toBe(true);
  });

  it('keeps keys apart', () => {
    expect(lost('1 invoke append @k "a"', '1 ok append @k "a"', '2 invoke get @j', '2 ok get @j ""').valid).toBe('unknown');
  });

  it('never reports a loss in a linearizable conformance history (it is sound)', () => {
    const expected = JSON.parse(readFileSync(join(TESTDATA, 'expected.json'), 'utf8')) as Record<string, Record<string, boolean>>;
    const linearizable = Object.entries({ ...expected.etcd_register, ...expected.kv_per_key }).filter(([, ok]) => ok);
    expect(linearizable.length).toBeGreaterThan(20);
    for (const [file] of linearizable) {
      const r = checkLostWrites(parseHistory(readFileSync(join(TESTDATA, file), 'utf8')).events);
      expect({ file, lost: r.lost.length }).toEqual({ file, lost: 0 });
    }
  });

  it('agrees with the conformance kv histories: none lost in the good ones, some in the bad ones', () => {
    const run = (file: string) => checkLostWrites(parseHistory(readFileSync(join(TESTDATA, file), 'utf8')).events);
    expect(run('kv/c10-ok.txt').valid).toBe(true);
    expect(run('kv/c10-bad.txt').valid).toBe(false);
  });
});
