/**
 * Hand-built histories for checker tests, one event per string:
 *
 *   '1 invoke write 3'         process 1 invokes write(3)
 *   '1 ok write 3'
 *   '2 invoke cas [3,4]'
 *   '3 invoke append @x "ab"'  key x
 *   '3 info write'             indefinite, no value
 *
 * The value is JSON. Lines are numbered from 1 like a file.
 */
import { fileURLToPath } from 'node:url';
import type { EventType, HistoryEvent, OpName, Value } from '../../src/check/history.js';

export function events(...lines: string[]): HistoryEvent[] {
  return lines.map((text, i) => {
    const m = /^(\S+) (invoke|ok|fail|info) (\w+)(?: @(\S+))?(?: (.+))?$/.exec(text);
    if (!m) throw new Error(`bad test event: ${text}`);
    const [, process, type, f, key, value] = m;
    const e: HistoryEvent = { process: Number(process), type: type as EventType, f: f as OpName, line: i + 1 };
    if (key !== undefined) e.key = key;
    if (value !== undefined) e.value = JSON.parse(value) as Value;
    return e;
  });
}

/** The same events as distlab JSON lines (without the line numbers). */
export function jsonl(evs: HistoryEvent[]): string {
  return evs.map(({ line: _line, ...e }) => JSON.stringify(e)).join('\n') + '\n';
}

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The shared conformance histories live next to the repository, not in it. */
export const TESTDATA = fileURLToPath(new URL('../../../shared/testdata/linearizability/', import.meta.url));
