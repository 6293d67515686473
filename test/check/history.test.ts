/**
 * The history format: three parsers, pairing invokes with completions, and
 * the recorder that writes histories the checkers read back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, HistoryParseError, HistoryRecorder, pairOperations, parseHistory } from '../../src/check/history.js';
import { checkLinearizability } from '../../src/check/linearizability.js';

const dir = mkdtempSync(join(tmpdir(), 'distlab-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parsers', () => {
  it('reads distlab JSON lines, skipping blank lines but counting them', () => {
    const text = '{"process":1,"type":"invoke","f":"write","key":"x","value":3,"time":1.5}\n\n{"process":1,"type":"ok","f":"write","key":"x","value":3,"time":2}\n';
    const { format, events } = parseHistory(text);
    expect(format).toBe('jsonl');
    expect(events).toEqual([
      { process: 1, type: 'invoke', f: 'write', key: 'x', value: 3, time: 1.5, line: 1 },
      { process: 1, type: 'ok', f: 'write', key: 'x', value: 3, time: 2, line: 3 },
    ]);
  });

  it('ignores a UTF-8 byte-order mark at the start, in every format', () => {
    const jsonl = '\uFEFF{"process":1,"type":"invoke","f":"write","value":3}\n{"process":1,"type":"ok","f":"write","value":3}\n';
    expect(parseHistory(jsonl)).toEqual({
      format: 'jsonl',
      events: [
        { process: 1, type: 'invoke', f: 'write', value: 3, line: 1 },
        { process: 1, type: 'ok', f: 'write', value: 3, line: 2 },
      ],
    });
    expect(parseHistory('\uFEFFINFO  jepsen.util - 0   :invoke :read   nil\n').format).toBe('jepsen');
    expect(parseHistory('\uFEFF{:process 0, :type :invoke, :f :get, :key "4", :value nil}\n').format).toBe('edn');
    // only a leading one: elsewhere it is a character like any other
    expect(() => parseHistory('{"process":1,"type":"invoke","f":"read"}\n\uFEFF{"process":1,"type":"ok","f":"read"}\n', 'jsonl')).toThrow(/line 2: not valid JSON/);
  });

  it('reads Jepsen etcd log lines: nil, integers, [a b] pairs, and :reasons', () => {
    const text = [
      'INFO  jepsen.util - 3\t:invoke\t:cas\t[4 1]',
      'INFO  jepsen.util - 3\t:fail\t:cas\t[4 1]',
      'INFO  jepsen.util - 0   :invoke :read   nil',
      'INFO  jepsen.util - 0   :info   :read   :timed-out',
    ].join('\n');
    expect(detectFormat(text)).toBe('jepsen');
    const { events } = parseHistory(text);
    expect(events.map((e) => [e.process, e.type, e.f, e.value, e.error])).toEqual([
      [3, 'invoke', 'cas', [4, 1], undefined],
      [3, 'fail', 'cas', [4, 1], undefined],
      [0, 'invoke', 'read', null, undefined],
      [0, 'info', 'read', undefined, 'timed-out'],
    ]);
  });

  it('reads Jepsen EDN maps', () => {
    const text = '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}\n{:process 3, :type :ok, :f :get, :key "4", :value nil}\n';
    expect(detectFormat(text)).toBe('edn');
    const { events } = parseHistory(text);
    expect(events[0]).toEqual({ process: 0, type: 'invoke', f: 'append', key: '4', value: 'x 0 1 y', line: 1 });
    expect(events[1]).toEqual({ process: 3, type: 'ok', f: 'get', key: '4', value: null, line: 2 });
  });

  it('skips the events of Jepsen\'s nemesis (faults, not client operations)', () => {
    const text = '{:process :nemesis, :type :info, :f :start, :value nil}\n{:process 0, :type :invoke, :f :get, :key "4", :value nil}\n';
    expect(parseHistory(text).events.map((e) => e.line)).toEqual([2]);
  });

  it.each([
    ['jsonl', '{"process":1,"type":"invoke","f":"read"}\n{"process":1,"type":"ok","f":"read"', 2, /not valid JSON/],
    ['jsonl', '{"process":1,"type":"begin","f":"read"}', 1, /"type" must be one of/],
    ['jsonl', '{"process":1,"type":"invoke","f":"incr"}', 1, /"f" must be one of/],
    ['jsonl', '[1,2]', 1, /expected a JSON object/],
    ['jsonl', '{"process":1,"type":"invoke","f":"cas","value":3}', 1, /cas invoke needs/],
    ['jepsen', 'INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.core - something else', 2, /not a Jepsen log line/],
    ['edn', '{:process 0, :type :invoke, :f :get, :key "4", :value nil', 1, /missing '}'/],
    ['edn', '{:process 0, :type :invoke, :f :get, "key" "4"}', 1, /map keys must be keywords/],
  ] as const)('rejects malformed %s input, naming the line', (format, text, line, message) => {
    try {
      parseHistory(text, format);
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(HistoryParseError);
      expect((err as HistoryParseError).line).toBe(line);
      expect((err as HistoryParseError).message).toMatch(message);
    }
  });
});

describe('pairing', () => {
  const ev = (text: string) => parseHistory(text).events;

  it('pairs by process, drops fails, keeps info and unfinished operations as indefinite', () => {
    const events = ev(
      [
        '{"process":1,"type":"invoke","f":"write","value":1}',
        '{"process":2,"type":"invoke","f":"write","value":2}',
        '{"process":3,"type":"invoke","f":"write","value":3}',
        '{"process":2,"type":"fail","f":"write"}',
        '{"process":1,"type":"ok","f":"write"}',
        '{"process":4,"type":"invoke","f":"read"}',
        '{"process":3,"type":"info","f":"write","error":"timed-out"}',
      ].join('\n'),
    );
    const { operations, failed } = pairOperations(events);
    expect(failed).toBe(1);
    expect(operations.map((op) => [op.process, op.input, op.status, op.completedAt])).toEqual([
      [1, 1, 'ok', 4],
      [3, 3, 'info', Infinity],
      [4, undefined, 'info', Infinity],
    ]);
  });

  it('rejects a completion without an invoke, a double invoke, and a changed f', () => {
    expect(() => pairOperations(ev('{"process":1,"type":"ok","f":"read","value":1}'))).toThrow(/line 1: process 1 completes \(ok\) an operation it never invoked/);
    expect(() => pairOperations(ev('{"process":1,"type":"invoke","f":"read"}\n{"process":1,"type":"invoke","f":"read"}'))).toThrow(/line 2: .*still open/);
    expect(() => pairOperations(ev('{"process":1,"type":"invoke","f":"read"}\n{"process":1,"type":"ok","f":"write"}'))).toThrow(/line 2: process 1 invoked read but completes write/);
  });
});

describe('HistoryRecorder', () => {
  it('writes JSON lines the checker reads back, with times that never go backwards', () => {
    const file = join(dir, 'recorded.jsonl');
    const times = [5, 3, 7, 7, 9, 8]; // a clock that steps back
    const rec = new HistoryRecorder({ file, clock: () => times.shift() ?? 100 });
    const w = rec.invoke('c1', 'write', { key: 'x', value: 1 });
    const r = rec.invoke('c2', 'read', { key: 'x' });
    w.ok();
    r.ok(1);
    const w2 = rec.invoke('c1', 'write', { key: 'x', value: 2 });
    w2.info('timed-out');
    rec.close();

    const { format, events } = parseHistory(readFileSync(file, 'utf8'));
    expect(format).toBe('jsonl');
    expect(events.map((e) => e.time)).toEqual([5, 5, 7, 7, 9, 9]);
    expect(events.map((e) => `${e.process} ${e.type} ${e.f}`)).toEqual(['c1 invoke write', 'c2 invoke read', 'c1 ok write', 'c2 ok read', 'c1 invoke write', 'c1 info write']);
    expect(events[5]?.error).toBe('timed-out');
    expect(rec.events).toEqual([]); // a file recorder keeps nothing in memory unless asked
    expect(checkLinearizability(events).valid).toBe(true);
  });

  it('keeps events in memory without a file, and refuses misuse', () => {
    let now = 0;
    const rec = new HistoryRecorder({ clock: () => now++ });
    const op = rec.invoke(1, 'put', { key: 'k', value: 'v' });
    expect(() => rec.invoke(1, 'get', { key: 'k' })).toThrow(/already has an operation running/);
    op.fail('quorum not met');
    expect(() => op.ok()).toThrow(/completed twice/);
    expect(rec.events).toEqual([
      { process: 1, type: 'invoke', f: 'put', key: 'k', value: 'v', time: 0 },
      { process: 1, type: 'fail', f: 'put', key: 'k', error: 'quorum not met', time: 1 },
    ]);
  });
});
