/**
 * Histories: what the clients saw, one event per line.
 *
 * A checker never looks inside the system it judges. It only reads what the
 * clients observed: each client operation is an `invoke` event when the
 * client sends it and a completion event when the client learns its fate:
 *
 *   ok    it happened, and `value` says what it returned (a read's value);
 *   fail  it certainly did NOT happen (the checker drops it);
 *   info  indefinite: it may or may not have happened (a timeout, a lost
 *         connection). It stays concurrent with everything after its invoke.
 *
 * The distlab format is JSON lines, one event per line:
 *
 *   {"process":1,"type":"invoke","f":"write","key":"x","value":3,"time":12.5}
 *   {"process":1,"type":"ok","f":"write","key":"x","value":3,"time":14.0}
 *
 * `f` is read / write / cas for registers (cas value = [expected, new]) and
 * get / put / append / delete for key-value stores. `key` is optional (a
 * history without keys is one register). `time` (milliseconds, monotonic) is
 * optional: when every event has one, events are ordered by it; otherwise the
 * order of the lines is the real-time order. A process runs one operation at
 * a time.
 *
 * Two foreign formats are read too, so that published histories can be
 * checked: Jepsen's etcd logs (`INFO  jepsen.util - 3 :ok :write 4`) and
 * Jepsen's EDN maps (`{:process 0, :type :ok, :f :get, :key "4", :value "x"}`).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export const EVENT_TYPES: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

/** Operation names: a register's and a key-value store's. */
export const REGISTER_FS = ['read', 'write', 'cas'] as const;
export const KV_FS = ['get', 'put', 'append', 'delete'] as const;
export type OpName = (typeof REGISTER_FS)[number] | (typeof KV_FS)[number];

/** JSON values as they appear in a history. */
export type Value = null | boolean | number | string | Value[] | { [k: string]: Value };

export interface HistoryEvent {
  /** Who ran the operation: one process runs one operation at a time. */
  process: number | string;
  type: EventType;
  f: OpName;
  key?: string;
  /** invoke: the argument (write value, [expected, new] for cas); ok: the result (a read's value). */
  value?: Value;
  /** Milliseconds on a monotonic clock. */
  time?: number;
  /** Why a fail or info happened ("timed-out", "quorum not met", ...). Informative only. */
  error?: string;
  /** 1-based line of the input this event came from (set by the parsers). */
  line?: number;
}

export type HistoryFormat = 'jsonl' | 'jepsen' | 'edn';

/** Malformed input: names the line so a person can go and look. */
export class HistoryParseError extends Error {
  override readonly name = 'HistoryParseError';
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

// ---------------------------------------------------------------- parsing

/** Guess the format from the first non-blank line. */
export function detectFormat(text: string): HistoryFormat {
  const first = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  if (/^\{\s*:/.test(first)) return 'edn';
  if (/jepsen\.util\s+-/.test(first)) return 'jepsen';
  return 'jsonl';
}

/** Parse a history in the given format (or detect it), ignoring a leading byte-order mark. Throws HistoryParseError. */
export function parseHistory(input: string, format: HistoryFormat | 'auto' = 'auto'): { format: HistoryFormat; events: HistoryEvent[] } {
  // A byte-order mark (editors on Windows write one) is not part of the first line.
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const fmt = format === 'auto' ? detectFormat(text) : format;
  const parseLine = fmt === 'jsonl' ? parseJsonLine : fmt === 'jepsen' ? parseJepsenLine : parseEdnLine;
  const events: HistoryEvent[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const event = parseLine(raw, i + 1);
    if (event) events.push(event);
  });
  return { format: fmt, events };
}

/** When every event carries a time, order by it (ties keep line order). */
function orderByTime(events: readonly HistoryEvent[]): HistoryEvent[] {
  if (events.length === 0 || !events.every((e) => typeof e.time === 'number')) return [...events];
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.time as number) - (b.e.time as number) || a.i - b.i)
    .map(({ e }) => e);
}

const ALL_FS: readonly string[] = [...REGISTER_FS, ...KV_FS];

/** Check the fields every format shares and build the event. */
function makeEvent(line: number, fields: Record<string, unknown>): HistoryEvent {
  const { process, type, f, key, value, time, error } = fields;
  if (typeof process !== 'number' && typeof process !== 'string') throw new HistoryParseError(line, `"process" must be a number or a string`);
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type))
    throw new HistoryParseError(line, `"type" must be one of ${EVENT_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  if (typeof f !== 'string' || !ALL_FS.includes(f)) throw new HistoryParseError(line, `"f" must be one of ${ALL_FS.join(', ')}, got ${JSON.stringify(f)}`);
  if (key !== undefined && key !== null && typeof key !== 'string' && typeof key !== 'number')
    throw new HistoryParseError(line, `"key" must be a string`);
  if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) throw new HistoryParseError(line, `"time" must be a number`);
  if (error !== undefined && typeof error !== 'string') throw new HistoryParseError(line, `"error" must be a string`);
  if (f === 'cas' && type === 'invoke' && !(Array.isArray(value) && value.length === 2))
    throw new HistoryParseError(line, `a cas invoke needs "value": [expected, new]`);
  const event: HistoryEvent = { process, type: type as EventType, f: f as OpName, line };
  if (key !== undefined && key !== null) event.key = String(key);
  if (value !== undefined) event.value = value as Value;
  if (time !== undefined) event.time = time;
  if (error !== undefined) event.error = error;
  return event;
}

function parseJsonLine(raw: string, line: number): HistoryEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new HistoryParseError(line, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HistoryParseError(line, 'expected a JSON object');
  return makeEvent(line, parsed as Record<string, unknown>);
}

/**
 * Jepsen's etcd log: `INFO  jepsen.util - PROCESS  :TYPE  :F  VALUE`, where
 * VALUE is `nil`, an integer, `[a b]` (cas) or `:timed-out` (a reason, not a value).
 */
function parseJepsenLine(raw: string, line: number): HistoryEvent {
  const m = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.+?)\s*$/.exec(raw);
  if (!m) throw new HistoryParseError(line, `not a Jepsen log line ("INFO  jepsen.util - PROCESS :TYPE :F VALUE")`);
  const [, process, type, f, rawValue] = m as unknown as [string, string, string, string, string];
  const fields: Record<string, unknown> = { process: Number(process), type, f };
  if (rawValue.startsWith(':')) fields.error = rawValue.slice(1);
  else fields.value = readEdnValue(rawValue, line);
  return makeEvent(line, fields);
}

/**
 * Jepsen's EDN map: `{:process 0, :type :ok, :f :get, :key "4", :value "x 0 1 y"}`.
 * Events of the `:nemesis` process are faults Jepsen injected, not client
 * operations: they are skipped.
 */
function parseEdnLine(raw: string, line: number): HistoryEvent | undefined {
  const value = readEdnValue(raw.trim(), line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HistoryParseError(line, 'expected an EDN map {:process ..., :type ..., :f ...}');
  if (value.process === 'nemesis') return undefined;
  return makeEvent(line, value);
}

/**
 * A small reader for the EDN this module meets: maps with keyword keys,
 * vectors, strings, numbers, nil, true/false and keywords (read as strings).
 */
function readEdnValue(text: string, line: number): Value {
  let pos = 0;
  const fail = (what: string): never => {
    throw new HistoryParseError(line, `${what} at column ${pos + 1}`);
  };
  const skip = () => {
    while (pos < text.length && /[\s,]/.test(text[pos] as string)) pos++;
  };
  const read = (): { value: Value; keyword: boolean } => {
    skip();
    const c = text[pos];
    if (c === undefined) return fail('unexpected end of input');
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      pos++;
      const items: Array<{ value: Value; keyword: boolean }> = [];
      for (;;) {
        skip();
        if (text[pos] === close) break;
        if (pos >= text.length) fail(`missing '${close}'`);
        items.push(read());
      }
      pos++;
      if (c === '[') return { value: items.map((i) => i.value), keyword: false };
      if (items.length % 2 !== 0) fail('a map needs key-value pairs');
      const map: Record<string, Value> = {};
      for (let i = 0; i < items.length; i += 2) {
        const k = items[i] as { value: Value; keyword: boolean };
        const v = items[i + 1] as { value: Value; keyword: boolean };
        if (!k.keyword) fail('map keys must be keywords');
        map[k.value as string] = v.value;
      }
      return { value: map, keyword: false };
    }
    if (c === '"') {
      let out = '';
      pos++;
      while (text[pos] !== '"') {
        if (pos >= text.length) fail('unterminated string');
        if (text[pos] === '\\') {
          pos++;
          const esc = text[pos];
          out += esc === 'n' ? '\n' : esc === 't' ? '\t' : (esc ?? '');
        } else out += text[pos];
        pos++;
      }
      pos++;
      return { value: out, keyword: false };
    }
    const m = /^[^\s,{}[\]"]+/.exec(text.slice(pos));
    if (!m) return fail(`unexpected '${c}'`);
    const token = m[0];
    pos += token.length;
    if (token.startsWith(':')) return { value: token.slice(1), keyword: true };
    if (token === 'nil') return { value: null, keyword: false };
    if (token === 'true' || token === 'false') return { value: token === 'true', keyword: false };
    if (/^-?\d+(\.\d+)?$/.test(token)) return { value: Number(token), keyword: false };
    return fail(`cannot read '${token}'`);
  };
  const { value } = read();
  skip();
  if (pos < text.length) fail('unexpected text after the value');
  return value;
}

// -------------------------------------------------------------- operations

/**
 * An operation: an invoke paired with its completion. Checkers work on these.
 * `fail`ed operations never reach a checker (they did not happen).
 */
export interface Operation {
  /** Position in the list of operations (0, 1, ...). */
  id: number;
  process: number | string;
  f: OpName;
  key: string | undefined;
  /** The argument of the invoke (write value, [expected, new] for cas, appended text). */
  input: Value | undefined;
  /** ok: the completion's value (a read's result); info: undefined (unknown). */
  output: Value | undefined;
  status: 'ok' | 'info';
  /** Indexes into the event list: where it was invoked and completed (Infinity: never, i.e. info). */
  invokedAt: number;
  completedAt: number;
  invoke: HistoryEvent;
  completion: HistoryEvent | undefined;
}

export interface PairedHistory {
  events: HistoryEvent[];
  /** ok and info operations, in invoke order. */
  operations: Operation[];
  /** How many fail operations were dropped. */
  failed: number;
}

/**
 * Pair every invoke with its process's next completion, after ordering the
 * events by time when every event has one. An invoke that never
 * completes is treated as info (indefinite). Throws HistoryParseError for a
 * completion without an invoke, a process that invokes twice, or an f/key
 * that changes between invoke and completion.
 */
export function pairOperations(input: readonly HistoryEvent[]): PairedHistory {
  const events = orderByTime(input);
  const open = new Map<string, Operation>();
  const operations: Operation[] = [];
  let failed = 0;
  events.forEach((e, index) => {
    const proc = String(e.process);
    const line = e.line ?? index + 1;
    if (e.type === 'invoke') {
      if (open.has(proc)) throw new HistoryParseError(line, `process ${proc} invokes while its previous operation is still open`);
      open.set(proc, {
        id: -1,
        process: e.process,
        f: e.f,
        key: e.key,
        input: e.value,
        output: undefined,
        status: 'info',
        invokedAt: index,
        completedAt: Infinity,
        invoke: e,
        completion: undefined,
      });
      return;
    }
    const op = open.get(proc);
    if (!op) throw new HistoryParseError(line, `process ${proc} completes (${e.type}) an operation it never invoked`);
    if (op.f !== e.f) throw new HistoryParseError(line, `process ${proc} invoked ${op.f} but completes ${e.f}`);
    if (e.key !== undefined && op.key !== e.key) throw new HistoryParseError(line, `process ${proc} invoked key ${op.key} but completes key ${e.key}`);
    open.delete(proc);
    op.completion = e;
    if (e.type === 'fail') {
      failed++;
      return;
    }
    if (e.type === 'ok') {
      op.status = 'ok';
      op.output = e.value;
      op.completedAt = index;
    }
    operations.push(op);
  });
  // never completed: indefinite, like info
  operations.push(...open.values());
  operations.sort((a, b) => a.invokedAt - b.invokedAt);
  operations.forEach((op, i) => (op.id = i));
  return { events, operations, failed };
}

/** One event as a short line for people: `p3 ok write x=4`. */
export function describeEvent(e: HistoryEvent): string {
  const key = e.key !== undefined ? ` [${e.key}]` : '';
  const value = e.value !== undefined ? ` ${JSON.stringify(e.value)}` : '';
  const error = e.error !== undefined ? ` (${e.error})` : '';
  return `p${e.process} ${e.type} ${e.f}${key}${value}${error}`;
}

// --------------------------------------------------------------- recording

export interface RecorderOptions {
  /** Append events to this JSONL file (created if missing). */
  file?: string;
  /** Keep events in memory too (`recorder.events`). Default: true when there is no file. */
  keepInMemory?: boolean;
  /** Milliseconds on a monotonic clock; the simulator passes its virtual clock. Default: performance.now(). */
  clock?: () => number;
}

/** A running operation: complete it exactly once. */
export interface PendingOperation {
  ok(value?: Value): void;
  fail(error?: string): void;
  info(error?: string): void;
}

/**
 * Records client operations as a history, so the same code writes and checks
 * histories. Each event is stamped with a time that never goes backwards and
 * written as one JSON line, in call order (the line order is the real-time
 * order). Writes are synchronous so a crash loses nothing already recorded.
 *
 *   const rec = new HistoryRecorder({ file: 'history.jsonl' });
 *   const op = rec.invoke(1, 'write', { key: 'x', value: 3 });
 *   ... op.ok() / op.fail('quorum not met') / op.info('timed-out')
 *   rec.close();
 */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private readonly fd: number | undefined;
  private readonly keep: boolean;
  private readonly clock: () => number;
  private lastTime = -Infinity;
  private readonly busy = new Set<string>();

  constructor(options: RecorderOptions = {}) {
    this.fd = options.file !== undefined ? openSync(options.file, 'a') : undefined;
    this.keep = options.keepInMemory ?? options.file === undefined;
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Record an invoke; complete the returned handle with ok, fail or info. */
  invoke(process: number | string, f: OpName, fields: { key?: string; value?: Value } = {}): PendingOperation {
    const proc = String(process);
    if (this.busy.has(proc)) throw new Error(`process ${proc} already has an operation running`);
    this.busy.add(proc);
    this.append({ process, type: 'invoke', f, ...fields });
    let done = false;
    const complete = (type: Exclude<EventType, 'invoke'>, extra: { value?: Value; error?: string }) => {
      if (done) throw new Error(`operation of process ${proc} completed twice`);
      done = true;
      this.busy.delete(proc);
      const event: HistoryEvent = { process, type, f };
      if (fields.key !== undefined) event.key = fields.key;
      if (extra.value !== undefined) event.value = extra.value;
      if (extra.error !== undefined) event.error = extra.error;
      this.append(event);
    };
    return {
      ok: (value) => complete('ok', value === undefined ? {} : { value }),
      fail: (error) => complete('fail', error === undefined ? {} : { error }),
      info: (error) => complete('info', error === undefined ? {} : { error }),
    };
  }

  /** Stop writing (pending operations stay open: a checker reads them as info). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }

  private append(event: HistoryEvent): void {
    // monotonic: a clock that stalls or steps back never reorders the history
    const time = Math.max(this.clock(), this.lastTime);
    this.lastTime = time;
    event.time = Math.round(time * 1000) / 1000;
    if (this.keep) this.events.push(event);
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(event) + '\n');
  }
}

// ------------------------------------------------------------------ values

/** A value as canonical JSON text (object keys sorted), for comparing and hashing. */
export function canonical(value: Value | undefined): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  // scalars compare directly; only arrays and objects need the canonical text
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  return canonical(a) === canonical(b);
}

/** An operation as plain JSON for `--json` output (lines point back into the input). */
export interface OperationJson {
  process: number | string;
  f: OpName;
  key?: string;
  value?: Value;
  output?: Value;
  status: 'ok' | 'info';
  invokeLine?: number;
  completeLine?: number;
}

export function operationJson(op: Operation): OperationJson {
  const json: OperationJson = { process: op.process, f: op.f, status: op.status };
  if (op.key !== undefined) json.key = op.key;
  if (op.input !== undefined) json.value = op.input;
  if (op.output !== undefined) json.output = op.output;
  if (op.invoke.line !== undefined) json.invokeLine = op.invoke.line;
  if (op.completion?.line !== undefined) json.completeLine = op.completion.line;
  return json;
}
