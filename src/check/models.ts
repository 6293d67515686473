/**
 * Sequential specifications: what ONE copy of the object, running one
 * operation at a time, would answer. A linearizability checker asks whether
 * the concurrent history can be explained by some order of its operations
 * fed through such a model.
 *
 * A model is a pure step function: given a state and an operation (with the
 * result the client observed), it either accepts and returns the next state,
 * or refuses (REFUSED). The search calls it millions of times, so it
 * allocates nothing; `whyRefused` says in words why, for the report
 * ("read 3, but the register holds 4").
 *
 * Both models here hold one value per key, and operations on different keys
 * never interact, so a history can be checked key by key (Herlihy and Wing's
 * locality, which Porcupine calls P-compositionality).
 */
import { canonical, type HistoryEvent, HistoryParseError, KV_FS, type Operation, type PairedHistory, pairOperations, REGISTER_FS, sameValue, type Value } from './history.js';

export type ModelName = 'register' | 'kv';

/** What `step` returns when the operation's observed result is impossible in the state. */
export const REFUSED: unique symbol = Symbol('refused');

export interface Model {
  name: ModelName;
  /** The state of a key nobody has written. */
  init: Value;
  /** Run one operation against the state. Operations whose result is unknown (info) accept any outcome. */
  step(state: Value, op: Operation): Value | typeof REFUSED;
  /** Why `step` refuses this operation in this state, in words. */
  whyRefused(state: Value, op: Operation): string;
  /** A string equal for equal states (for the search's memory of visited states). */
  stateKey(state: Value): string;
  describeState(state: Value): string;
  /** Why an operation is malformed for this model, or undefined if it is fine. */
  invalid(op: Operation): string | undefined;
  /** True if the operation can change the state (reads cannot). */
  mutates(op: Operation): boolean;
}

/** State keys for the search's memo: cheap for strings and numbers, canonical JSON for the rest. */
const stateKey = (state: Value): string => (typeof state === 'string' ? `s${state}` : typeof state === 'number' ? `n${state}` : canonical(state));

const show = (v: Value | undefined): string => (v === null || v === undefined ? 'nil' : JSON.stringify(v));

/**
 * A register: one value per key, absent (nil) until the first write.
 * read returns the value; write sets it; cas [expected, new] sets it to new
 * only if it currently equals expected. A cas that completed `ok` swapped;
 * a cas whose outcome is unknown (info) may have swapped if the value matched.
 */
export const registerModel: Model = {
  name: 'register',
  init: null,
  step(state, op) {
    switch (op.f) {
      case 'read':
        return sameValue(state, op.output ?? null) ? state : REFUSED;
      case 'write':
        return op.input ?? null;
      case 'cas': {
        const [expected, next] = op.input as [Value, Value];
        const matches = sameValue(state, expected);
        if (op.status === 'info') return matches ? next : state;
        return matches ? next : REFUSED;
      }
      default:
        return REFUSED;
    }
  },
  whyRefused(state, op) {
    if (op.f === 'read') return `read ${show(op.output)}, but the register holds ${show(state)}`;
    if (op.f === 'cas') return `cas expected ${show((op.input as Value[])[0])}, but the register holds ${show(state)}`;
    return `a register has no ${op.f}`;
  },
  stateKey,
  describeState: (state) => show(state),
  invalid(op) {
    if (!(REGISTER_FS as readonly string[]).includes(op.f)) return `the register model has no '${op.f}' (use read, write, cas, or --model kv)`;
    if (op.f === 'cas' && !(Array.isArray(op.input) && op.input.length === 2)) return 'cas needs value [expected, new]';
    return undefined;
  },
  mutates: (op) => op.f !== 'read',
};

/** In the kv model an absent key and the empty string are the same value. */
const kvValue = (v: Value | undefined): Value => (v === null || v === undefined ? '' : v);

/**
 * A key-value map, checked one key at a time. Each key holds a value, the
 * empty string until written (absent and "" are the same). get returns it;
 * put replaces it; append concatenates text to it; delete empties it.
 */
export const kvModel: Model = {
  name: 'kv',
  init: '',
  step(state, op) {
    switch (op.f) {
      case 'get':
        return sameValue(state, kvValue(op.output)) ? state : REFUSED;
      case 'put':
        return kvValue(op.input);
      case 'append':
        return String(state) + String(op.input);
      case 'delete':
        return '';
      default:
        return REFUSED;
    }
  },
  whyRefused(state, op) {
    if (op.f === 'get') return `get returned ${show(op.output)}, but the key holds ${show(state)}`;
    return `a key-value store has no ${op.f}`;
  },
  stateKey,
  describeState: (state) => show(state),
  invalid(op) {
    if (!(KV_FS as readonly string[]).includes(op.f)) return `the kv model has no '${op.f}' (use get, put, append, delete, or --model register)`;
    if (op.f === 'append' && typeof op.input !== 'string') return 'append needs a string value';
    return undefined;
  },
  mutates: (op) => op.f !== 'get',
};

/** Whether two values are the same state of a key in this model (kv: absent and "" are equal). */
export function sameState(model: ModelName, a: Value | undefined, b: Value | undefined): boolean {
  return model === 'kv' ? sameValue(kvValue(a), kvValue(b)) : sameValue(a ?? null, b ?? null);
}

/** A value as text, equal for values that are the same state in this model. */
export function stateText(model: ModelName, v: Value | undefined): string {
  return canonical(model === 'kv' ? kvValue(v) : (v ?? null));
}

export const MODELS: Record<ModelName, Model> = { register: registerModel, kv: kvModel };

/** Pick the model from the operation names: any get/put/append/delete means kv. */
export function inferModel(ops: readonly Operation[]): ModelName {
  return ops.some((op) => (KV_FS as readonly string[]).includes(op.f)) ? 'kv' : 'register';
}

/**
 * What every checker does first: pair the events into operations (unless
 * they come paired), pick the model ('auto' or absent: from the operation
 * names) and make sure every operation fits it. Throws HistoryParseError
 * if events do not pair up or an operation does not fit the model.
 */
export function modelledHistory(history: readonly HistoryEvent[] | PairedHistory, requested?: ModelName | 'auto'): { paired: PairedHistory; modelName: ModelName; model: Model } {
  const paired = Array.isArray(history) ? pairOperations(history as HistoryEvent[]) : (history as PairedHistory);
  const modelName = requested === undefined || requested === 'auto' ? inferModel(paired.operations) : requested;
  const model = MODELS[modelName];
  for (const op of paired.operations) {
    const problem = model.invalid(op);
    if (problem) throw new HistoryParseError(op.invoke.line ?? op.invokedAt + 1, problem);
  }
  return { paired, modelName, model };
}

/** Operations by key, in their order; operations on different keys never interact in these models. */
export function groupByKey(ops: readonly Operation[]): Map<string | undefined, Operation[]> {
  const parts = new Map<string | undefined, Operation[]>();
  for (const op of ops) {
    const part = parts.get(op.key);
    if (part) part.push(op);
    else parts.set(op.key, [op]);
  }
  return parts;
}

/** One operation for people: `p3 write 4`, `p0 read → 3`, `p1 cas 4→1 (info)`. */
export function describeOperation(op: Operation): string {
  const key = op.key !== undefined ? `[${op.key}] ` : '';
  let text: string;
  switch (op.f) {
    case 'read':
    case 'get':
      text = `${op.f} ${key}→ ${op.status === 'ok' ? show(op.output) : '?'}`;
      break;
    case 'cas': {
      const [a, b] = op.input as [Value, Value];
      text = `cas ${key}${show(a)}→${show(b)}`;
      break;
    }
    case 'delete':
      text = `delete ${key}`.trimEnd();
      break;
    default:
      text = `${op.f} ${key}${show(op.input)}`;
  }
  const lines = op.completion?.line !== undefined && op.status === 'ok' ? `lines ${op.invoke.line}-${op.completion.line}` : `line ${op.invoke.line}`;
  return `p${op.process} ${text}${op.status === 'info' ? ' (info: may or may not have happened)' : ''} [${lines}]`;
}
