/**
 * Is this history linearizable?
 *
 * A history is linearizable if every operation can be given one instant, its
 * linearization point, somewhere between its invoke and its completion, such
 * that running the operations one by one in the order of those instants
 * through the sequential model gives every result the clients saw.
 *
 * The search is Wing and Gong's, with Lowe's memoization (the algorithm
 * Porcupine and Knossos use). Lay out all invokes ("calls") and completions
 * ("returns") in real-time order in one list. Walk it from the front:
 *
 * - At a call, try to linearize that operation now: run it through the model.
 *   If the model accepts, remember the choice on a stack, take the operation's
 *   call and return out of the list, and start again from the front.
 * - At a return, we are stuck: that operation completed, so it had to be
 *   linearized before anything invoked after this point, and no choice made
 *   so far lets it be. Undo the last choice (pop the stack, put the operation
 *   back) and try the next call after it.
 *
 * The list empties when every operation is linearized: the stack is the
 * order. The stack empties on a return when no order exists: a violation.
 *
 * Two things make it fast enough. Memoization: reaching the same SET of
 * linearized operations with the same model state twice leads to the same
 * future, so each (set, state) pair is explored once. Locality: operations on
 * different keys never interact, so each key is checked alone (the search is
 * exponential in the number of concurrent operations, not in the length).
 *
 * What the history's events mean here:
 * - fail: did not happen; the operation is left out.
 * - info (or never completed): may have happened. Its return is at infinity,
 *   so it can be linearized anywhere after its invoke, including after
 *   everything else, which is the same as never happening.
 * - a read whose result is unknown (fail or info) says nothing: left out.
 */
import { canonical, describeEvent, type HistoryEvent, type Operation, type PairedHistory, type Value } from './history.js';
import { describeOperation, groupByKey, type Model, modelledHistory, MODELS, type ModelName, REFUSED } from './models.js';

export interface LinearizabilityOptions {
  /** The sequential model; 'auto' (default) picks kv if any get/put/append/delete appears. */
  model?: ModelName | 'auto';
  /** Give up after this many milliseconds and answer 'unknown'. Default 30 s. */
  timeoutMs?: number;
  /** Give up after exploring this many (linearized set, state) pairs. Default 5,000,000. */
  maxStates?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_STATES = 5_000_000;

export interface StuckOperation {
  operation: Operation;
  /** Why the model refuses it after the prefix, or that every continuation after it failed. */
  why: string;
}

export interface Violation {
  /** The key whose sub-history is not linearizable (undefined: a history without keys). */
  key: string | undefined;
  /** The longest linearizable prefix the search found, in linearization order. */
  prefix: Operation[];
  /** The model state after that prefix. */
  state: Value;
  /** The operation that completed before it could be placed. */
  blocking: Operation;
  /** The operations that could have been linearized next, and why none extends the prefix. */
  stuck: StuckOperation[];
  /** The events of the operations involved (the prefix's last few, the stuck ones), in history order. */
  window: HistoryEvent[];
}

export interface LinearizabilityResult {
  /** true: linearizable; false: a violation; 'unknown': the search hit its bound. */
  valid: boolean | 'unknown';
  model: ModelName;
  /** Operations checked (ok and info; fail and unknown-result reads are left out). */
  operations: number;
  /** Independent sub-histories (keys). */
  partitions: number;
  /** (linearized set, state) pairs explored, over all keys. */
  statesExplored: number;
  elapsedMs: number;
  /** For 'unknown': which bound was hit. */
  reason?: string;
  violation?: Violation;
}

/**
 * Check a history (events, or already paired operations) for linearizability.
 * Throws HistoryParseError if events do not pair up or an operation does not
 * fit the model.
 */
export function checkLinearizability(history: readonly HistoryEvent[] | PairedHistory, options: LinearizabilityOptions = {}): LinearizabilityResult {
  const started = Date.now();
  const { paired, modelName, model } = modelledHistory(history, options.model);

  // A read with no result constrains nothing and changes nothing; an
  // indefinite write that nobody saw can be left out too (see below).
  const ops = withoutUnobservedIndefiniteWrites(paired.operations.filter((op) => model.mutates(op) || op.status === 'ok'));
  const partitions = groupByKey(ops);
  const budget: Budget = {
    deadline: started + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    statesLeft: options.maxStates ?? DEFAULT_MAX_STATES,
    explored: 0,
  };

  // Keys are searched side by side, a slice of steps each in turn, so that one
  // key whose search explodes cannot hide a violation that another key shows
  // at once (one violation anywhere decides the whole history).
  let active = [...partitions].map(([key, part]) => ({ key, part, search: searchPartition(model, part, budget) }));
  let reason: string | undefined;
  let violation: Violation | undefined;
  while (active.length > 0 && !violation) {
    if (Date.now() > budget.deadline) {
      reason = `time limit reached with ${active.length} key(s) undecided`;
      break;
    }
    const stillRunning: typeof active = [];
    for (const p of active) {
      const turn = p.search.next();
      if (!turn.done) stillRunning.push(p);
      else if (turn.value.kind === 'violation') {
        violation = explain(model, p.key, p.part, turn.value, paired.events);
        break;
      } else if (turn.value.kind === 'unknown') reason ??= `${turn.value.reason} (key ${p.key ?? '(none)'})`;
    }
    active = stillRunning;
  }

  return {
    valid: violation ? false : reason ? 'unknown' : true,
    model: modelName,
    operations: ops.length,
    partitions: partitions.size,
    statesExplored: budget.explored,
    elapsedMs: Date.now() - started,
    ...(reason !== undefined && !violation ? { reason } : {}),
    ...(violation ? { violation } : {}),
  };
}

// ------------------------------------------------------------------ search

interface Budget {
  deadline: number;
  statesLeft: number;
  explored: number;
}

/** One entry of the call/return list. A call knows its return, so both can be lifted out together. */
interface Entry {
  /** Index of the operation within its partition (its bit in the linearized set). */
  index: number;
  kind: 'call' | 'return';
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

type SearchOutcome =
  | { kind: 'ok' }
  | { kind: 'unknown'; reason: 'state limit reached' }
  | { kind: 'violation'; prefix: number[]; state: Value };

/** Build the list: a head sentinel, then calls and returns in real-time order. */
function buildList(ops: Operation[]): Entry {
  const points: Array<{ time: number; entry: Entry }> = [];
  ops.forEach((op, index) => {
    const ret: Entry = { index, kind: 'return', match: undefined, prev: undefined, next: undefined };
    const call: Entry = { index, kind: 'call', match: ret, prev: undefined, next: undefined };
    points.push({ time: op.invokedAt, entry: call }, { time: op.completedAt, entry: ret });
  });
  // times are event positions, all distinct except the infinite returns of info operations
  points.sort((a, b) => a.time - b.time || a.entry.index - b.entry.index); // Infinity - Infinity is NaN: falls to the index
  const head: Entry = { index: -1, kind: 'call', match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const { entry } of points) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Take an operation (its call and its return) out of the list. */
function lift(call: Entry): void {
  const ret = call.match as Entry;
  (call.prev as Entry).next = call.next;
  if (call.next) call.next.prev = call.prev;
  (ret.prev as Entry).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Put it back exactly where it was (the reverse of lift). */
function unlift(call: Entry): void {
  const ret = call.match as Entry;
  (ret.prev as Entry).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as Entry).next = call;
  if (call.next) call.next.prev = call;
}

/**
 * The set of linearized operations, which is also the memo's key.
 *
 * The search adds and removes operations like a stack (the last added is the
 * first removed), and operations are numbered in invoke order, so the set is
 * always "every operation below `lowestMissing`, plus a few more up to
 * `highest`". The key encodes just that, so its length follows the number of
 * concurrent operations, not the length of the history.
 */
class LinearizedSet {
  private readonly words: Uint16Array;
  private readonly added: number[] = [];
  /** highestSoFar[i]: the highest operation among the first i+1 added. */
  private readonly highestSoFar: number[] = [];
  private lowestMissing = 0;

  constructor(size: number) {
    this.words = new Uint16Array(Math.ceil(size / 16) + 1);
  }

  has(i: number): boolean {
    return ((this.words[i >> 4] as number) & (1 << (i & 15))) !== 0;
  }

  add(i: number): void {
    (this.words[i >> 4] as number) |= 1 << (i & 15);
    this.added.push(i);
    this.highestSoFar.push(Math.max(i, this.highestSoFar.at(-1) ?? -1));
    while (this.has(this.lowestMissing)) this.lowestMissing++;
  }

  /** Remove the operation added last. */
  removeLast(): void {
    const i = this.added.pop() as number;
    this.highestSoFar.pop();
    (this.words[i >> 4] as number) &= ~(1 << (i & 15));
    if (i < this.lowestMissing) this.lowestMissing = i;
  }

  /** `lowestMissing;` then the bits from its 16-bit word up to the highest member's, one character per word. */
  key(): string {
    const highest = this.highestSoFar.at(-1) ?? -1;
    if (highest < this.lowestMissing) return `${this.lowestMissing};`;
    return `${this.lowestMissing};${String.fromCharCode.apply(null, this.words.subarray(this.lowestMissing >> 4, (highest >> 4) + 1) as unknown as number[])}`;
  }
}

/** Steps a key's search takes before letting the next key have a turn. */
const SLICE = 2048;

/** The search for one key, as a generator: it pauses (yields) every SLICE steps. */
function* searchPartition(model: Model, ops: Operation[], budget: Budget): Generator<void, SearchOutcome> {
  const head = buildList(ops);
  const linearized = new LinearizedSet(ops.length);
  const visited = new Set<string>();
  // Each distinct model state gets a small number, so the memo stays small even
  // when states are long strings (a key that was appended to many times).
  const stateIds = new Map<string, number>();
  const stateId = (s: Value): number => {
    const text = model.stateKey(s);
    let id = stateIds.get(text);
    if (id === undefined) stateIds.set(text, (id = stateIds.size));
    return id;
  };
  const stack: Array<{ call: Entry; stateBefore: Value }> = [];
  let state = model.init;
  // the deepest the stack got, kept for the report (copied only when backtracking from a new depth)
  let best: { prefix: number[]; state: Value } = { prefix: [], state };
  let cursor = head.next;
  let steps = 0;

  while (head.next !== undefined) {
    if (++steps % SLICE === 0) yield;
    const entry = cursor as Entry; // the list always ends with a return, so the walk never runs off it
    if (entry.kind === 'call') {
      const next = model.step(state, ops[entry.index] as Operation);
      if (next !== REFUSED) {
        linearized.add(entry.index);
        const memo = `${linearized.key()};${stateId(next)}`;
        if (!visited.has(memo)) {
          if (budget.statesLeft-- <= 0) return { kind: 'unknown', reason: 'state limit reached' };
          visited.add(memo);
          budget.explored++;
          stack.push({ call: entry, stateBefore: state });
          state = next;
          lift(entry);
          cursor = head.next;
          continue;
        }
        linearized.removeLast();
      }
      cursor = entry.next;
    } else {
      // An operation returned before we could place it: undo the last choice.
      if (stack.length > best.prefix.length) best = { prefix: stack.map((s) => s.call.index), state };
      const top = stack.pop();
      if (!top) return { kind: 'violation', prefix: best.prefix, state: best.state };
      state = top.stateBefore;
      linearized.removeLast();
      unlift(top.call);
      cursor = top.call.next;
    }
  }
  return { kind: 'ok' };
}

// ------------------------------------------------------------- explanation

/** How many operations of the prefix to show before the point where it stops. */
const PREFIX_SHOWN = 4;
/** At most this many candidate operations are listed. */
const STUCK_SHOWN = 8;

/**
 * Turn the search's longest prefix into something a person can read: after
 * the prefix, which operations could come next (invoked before the first
 * pending return), and why the model refuses each.
 */
function explain(model: Model, key: string | undefined, ops: Operation[], outcome: { prefix: number[]; state: Value }, events: HistoryEvent[]): Violation {
  const done = new Set(outcome.prefix);
  const pending = ops.filter((_, i) => !done.has(i));
  // the first pending operation to complete is the one that could not be placed
  const blocking = pending.reduce((a, b) => (b.completedAt < a.completedAt ? b : a));
  // the blocking operation first, then the others nearest to it (old indefinite operations last)
  const others = pending.filter((op) => op !== blocking && op.invokedAt < blocking.completedAt).sort((a, b) => b.invokedAt - a.invokedAt);
  const candidates = [blocking, ...others];
  const stuck = candidates.slice(0, STUCK_SHOWN).map((operation) => {
    const next = model.step(outcome.state, operation);
    const why = next === REFUSED ? model.whyRefused(outcome.state, operation) : `fits (state becomes ${model.describeState(next)}), but no order of the rest works after it`;
    return { operation, why };
  });
  const prefix = outcome.prefix.map((i) => ops[i] as Operation);
  const involved = new Set<Operation>([...prefix.slice(-PREFIX_SHOWN), ...stuck.map((s) => s.operation), blocking]);
  const involvedEvents = new Set([...involved].flatMap((op) => (op.completion ? [op.invoke, op.completion] : [op.invoke])));
  const window = events.filter((e) => involvedEvents.has(e));
  return { key, prefix, state: outcome.state, blocking, stuck, window };
}

/** A violation as a few readable lines. */
export function formatViolation(model: Model | ModelName, v: Violation): string {
  const m = typeof model === 'string' ? MODELS[model] : model;
  const lines: string[] = [];
  lines.push(`not linearizable${v.key !== undefined ? ` (key ${JSON.stringify(v.key)})` : ''}`);
  lines.push(`  longest linearizable prefix: ${v.prefix.length} operation(s)${v.prefix.length > PREFIX_SHOWN ? `, the last ${PREFIX_SHOWN}:` : ':'}`);
  for (const op of v.prefix.slice(-PREFIX_SHOWN)) lines.push(`    ${describeOperation(op)}`);
  lines.push(`  state after it: ${m.describeState(v.state)}`);
  lines.push(`  ${describeOperation(v.blocking)} completed, but nothing can be linearized next:`);
  for (const s of v.stuck) lines.push(`    ${describeOperation(s.operation)}: ${s.why}`);
  lines.push('  the events involved:');
  for (const e of v.window) lines.push(`    line ${String(e.line ?? '?').padStart(5)}  ${describeEvent(e)}`);
  return lines.join('\n');
}

/**
 * Leaves out every indefinite (`info`) write or put whose value no one ever
 * observed: no successful read of its key returned that value and no cas on
 * its key expected it, on a key that has no appends.
 *
 * This changes no verdict, and it is what keeps histories full of timeouts
 * decidable (each `info` op otherwise doubles the orders to try):
 * - If the history without the write is linearizable, so is the history with
 *   it: an indefinite operation may simply not have happened.
 * - If the history with it is linearizable, take such an order. Nothing that
 *   is left in it can sit between the write and the key's next write: a read
 *   there would return the value (none does), a successful cas there would
 *   expect it (none does), and an append would build on it (there are none).
 *   So the write's value is overwritten before anyone looks, and deleting the
 *   write leaves every other operation's result as it was.
 * Empty values are never dropped: in the kv model an absent key reads as "".
 */
export function withoutUnobservedIndefiniteWrites(ops: readonly Operation[]): Operation[] {
  const seen = new Set<string>();
  const keysWithAppends = new Set<string | undefined>();
  const tag = (key: string | undefined, value: Value | undefined) => `${key ?? ''}\u0000${canonical(value)}`;
  for (const op of ops) {
    if (op.f === 'append') keysWithAppends.add(op.key);
    else if ((op.f === 'read' || op.f === 'get') && op.status === 'ok') seen.add(tag(op.key, op.output));
    else if (op.f === 'cas' && Array.isArray(op.input)) seen.add(tag(op.key, op.input[0]));
  }
  return ops.filter(
    (op) =>
      !(
        op.status === 'info' &&
        (op.f === 'write' || op.f === 'put') &&
        op.input !== undefined &&
        op.input !== null &&
        op.input !== '' &&
        !keysWithAppends.has(op.key) &&
        !seen.has(tag(op.key, op.input))
      ),
  );
}
