import { describe, expect, it } from 'vitest';
import { SortedMap } from '../../src/protocols/sorted-map.js';

/** What a SortedMap must list: every key with the prefix, sorted, computed the slow way. */
function expected(keys: Iterable<string>, prefix = ''): string[] {
  return [...keys].filter((k) => k.startsWith(prefix)).sort();
}

describe('SortedMap', () => {
  it('lists keys in ascending order, all or under a prefix', () => {
    const m = new SortedMap<number>();
    for (const k of ['kv/b', 'hints/x', 'kv/a', 'kv', 'kw/a', 'k']) m.set(k, 1);
    expect(m.keys()).toEqual(['hints/x', 'k', 'kv', 'kv/a', 'kv/b', 'kw/a']);
    expect(m.keys('kv/')).toEqual(['kv/a', 'kv/b']);
    expect(m.keys('kv')).toEqual(['kv', 'kv/a', 'kv/b']);
    expect(m.keys('zz')).toEqual([]);
    m.set('kv/a', 2);
    expect(m.entries('kv/')).toEqual([
      ['kv/a', 2],
      ['kv/b', 1],
    ]);
  });

  it('keeps the order through sets, overwrites and deletes after it was first listed', () => {
    const m = new SortedMap<number>();
    const live = new Set<string>();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2_000; i++) {
      const key = `${['a/', 'b/', 'ab/'][Math.floor(rand() * 3)]}${Math.floor(rand() * 300)}`;
      if (rand() < 0.3) {
        expect(m.delete(key)).toBe(live.delete(key));
      } else {
        m.set(key, i);
        live.add(key);
      }
      if (i % 97 === 0) expect(m.keys('a')).toEqual(expected(live, 'a'));
    }
    expect(m.keys()).toEqual(expected(live));
    expect(m.keys('b/')).toEqual(expected(live, 'b/'));
    expect(m.size).toBe(live.size);
  });

  it('hands out a copy: changing the map later leaves an earlier listing alone', () => {
    const m = new SortedMap<number>();
    m.set('a', 1);
    const listed = m.keys();
    m.set('b', 2);
    m.delete('a');
    expect(listed).toEqual(['a']);
    expect(m.keys()).toEqual(['b']);
  });
});
