/** SqliteStorage keeps the protocols' Storage contract (src/protocols/env.ts) on disk. */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/live/storage-sqlite.js';
import { stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

const durable = (storage: SqliteStorage, put: (cb: () => void) => void) => new Promise<void>((resolve) => put(resolve));

describe('SqliteStorage', () => {
  it('reads its own writes at once, reports them durable after the commit, and finds them after reopening', async () => {
    const dir = tempDir();
    const a = new SqliteStorage(dir);
    const order: string[] = [];
    a.put('kv/d/b', { value: 1 }, () => order.push('b1'));
    a.put('kv/d/a', { value: 'x', list: [1, 2] }, () => order.push('a'));
    a.put('kv/d/b', { value: 2 }, () => order.push('b2'));
    a.put('other', true, () => order.push('other'));
    expect(a.get('kv/d/b')).toEqual({ value: 2 });
    expect(order).toEqual([]); // nothing is durable before the turn's commit
    await durable(a, (cb) => a.delete('other', cb));
    expect(order).toEqual(['b1', 'a', 'b2', 'other']);
    expect(a.keys('kv/')).toEqual(['kv/d/a', 'kv/d/b']);
    expect(a.keys()).toEqual(['kv/d/a', 'kv/d/b']);
    a.close();

    const b = new SqliteStorage(dir);
    expect(b.get('kv/d/a')).toEqual({ value: 'x', list: [1, 2] });
    expect(b.get('kv/d/b')).toEqual({ value: 2 });
    expect(b.get('other')).toBeUndefined();
    expect(b.size).toBe(2);
    b.close();
  });

  it('refuses a value JSON cannot hold, changing nothing', () => {
    const storage = new SqliteStorage(tempDir());
    storage.put('k', 'kept');
    expect(() => storage.put('k', undefined)).toThrow(TypeError);
    expect(() => storage.put('k', () => 1)).toThrow(TypeError);
    expect(storage.get('k')).toBe('kept');
    storage.close();
  });
});
