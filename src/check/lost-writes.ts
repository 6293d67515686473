/**
 * Lost writes: an acknowledged write that a later read cannot see.
 *
 * This checker is deliberately simpler and weaker than the linearizability
 * checker, and it never cries wolf: everything it reports is a real anomaly
 * in ANY history a correct (linearizable) store could produce. It looks at
 * pairs of one acknowledged write W and one read R of the same key such that
 * W was acknowledged before R was invoked. In such a pair R must see W,
 * unless some other operation X could have taken effect between them.
 *
 * X "could fall between W and R" when it is not over before W started and
 * had started before R ended:  X.invoke < R.complete  and  X.complete > W.invoke
 * (an info or unfinished X has complete = infinity). That is exactly where a
 * linearization could put X after W and before R.
 *
 * - W replaces the value (write, put, delete, or a cas that succeeded):
 *   R sees W if it returns W's value. Otherwise R must have read the value of
 *   some X that falls between: X replaces with exactly the value R returned,
 *   or X is an append (which can make many values). If no such X exists, W is
 *   lost and R is the witness.
 * - W is an append of text T: R sees W if its value contains T. Otherwise
 *   only a replacing X (put or delete) falling between can have removed T; if
 *   there is none, W is lost.
 *
 * Once another replacing write was invoked after W was acknowledged and was
 * itself acknowledged before R was invoked, W has been legitimately overwritten:
 * reads from then on are no longer asked to see it.
 *
 * Verdict: fail if any write is lost; pass if none is and at least one
 * acknowledged write was followed by a read of its key; otherwise unknown
 * (nothing was checked).
 */
import { type HistoryEvent, HistoryParseError, type Operation, type PairedHistory, pairOperations, type Value } from './history.js';
import { inferModel, type ModelName, MODELS, sameState } from './models.js';

export interface LostWrite {
  /** The acknowledged write that was not seen. */
  write: Operation;
  /** The first read, invoked after the write was acknowledged, that cannot have seen it. */
  read: Operation;
  why: string;
}

export interface LostWritesResult {
  /** false: some acknowledged write was lost; true: none; 'unknown': no write was followed by a read. */
  valid: boolean | 'unknown';
  model: ModelName;
  /** Writes (write, put, append, delete, cas) that completed ok. */
  acknowledgedWrites: number;
  /** Of those, how many were followed by at least one read of their key. */
  checkedWrites: number;
  lost: LostWrite[];
  elapsedMs: number;
}

export interface LostWritesOptions {
  model?: ModelName | 'auto';
}

const isRead = (op: Operation) => op.f === 'read' || op.f === 'get';

/** The value a replacing operation leaves behind (write/put: its value, delete: absent, cas: its new value). */
function valueLeft(op: Operation): Value {
  if (op.f === 'delete') return null;
  if (op.f === 'cas') return (op.input as [Value, Value])[1];
  return op.input ?? null;
}

/** Could X take effect after W and before R in some linearization? */
const fallsBetween = (x: Operation, w: Operation, r: Operation) => x.invokedAt < r.completedAt && x.completedAt > w.invokedAt;

export function checkLostWrites(history: readonly HistoryEvent[] | PairedHistory, options: LostWritesOptions = {}): LostWritesResult {
  const started = Date.now();
  const paired = Array.isArray(history) ? pairOperations(history as HistoryEvent[]) : (history as PairedHistory);
  const modelName = options.model === undefined || options.model === 'auto' ? inferModel(paired.operations) : options.model;
  const model = MODELS[modelName];
  for (const op of paired.operations) {
    const problem = model.invalid(op);
    if (problem) throw new HistoryParseError(op.invoke.line ?? op.invokedAt + 1, problem);
  }

  const byKey = new Map<string | undefined, Operation[]>();
  for (const op of paired.operations) {
    const ops = byKey.get(op.key) ?? [];
    ops.push(op);
    byKey.set(op.key, ops);
  }

  let acknowledgedWrites = 0;
  let checkedWrites = 0;
  const lost: LostWrite[] = [];
  for (const ops of byKey.values()) {
    const reads = ops.filter((op) => isRead(op) && op.status === 'ok');
    const writes = ops.filter((op) => !isRead(op)); // ok and info: anything that may have changed the value
    for (const w of writes) {
      if (w.status !== 'ok') continue;
      acknowledgedWrites++;
      const later = reads.filter((r) => r.invokedAt > w.completedAt);
      if (later.length > 0) checkedWrites++;
      const cut = overwrittenAt(w, writes);
      const witness = later.find((r) => r.invokedAt < cut && !canExplain(modelName, w, r, writes));
      if (witness) lost.push({ write: w, read: witness, why: whyLost(modelName, w, witness) });
    }
  }

  return {
    valid: lost.length > 0 ? false : checkedWrites > 0 ? true : 'unknown',
    model: modelName,
    acknowledgedWrites,
    checkedWrites,
    lost,
    elapsedMs: Date.now() - started,
  };
}

/**
 * When W is certainly overwritten: the earliest acknowledgement of another
 * replacing write invoked after W was acknowledged (Infinity if none).
 * Reads invoked after that are no longer asked to see W.
 */
function overwrittenAt(w: Operation, writes: Operation[]): number {
  let cut = Infinity;
  for (const x of writes) {
    if (x !== w && x.f !== 'append' && x.status === 'ok' && x.invokedAt > w.completedAt) cut = Math.min(cut, x.completedAt);
  }
  return cut;
}

/** Does R see W, or could something between them have produced what R returned? */
function canExplain(model: ModelName, w: Operation, r: Operation, writes: Operation[]): boolean {
  const between = (x: Operation) => x !== w && fallsBetween(x, w, r);
  if (w.f === 'append') {
    if (typeof r.output === 'string' && r.output.includes(String(w.input))) return true;
    return writes.some((x) => between(x) && x.f !== 'append');
  }
  if (sameState(model, valueLeft(w), r.output)) return true;
  return writes.some((x) => between(x) && (x.f === 'append' || sameState(model, valueLeft(x), r.output)));
}

function whyLost(model: ModelName, w: Operation, r: Operation): string {
  const shown = JSON.stringify(r.output ?? null);
  if (w.f === 'append') return `the read returned ${shown}, which does not contain ${JSON.stringify(w.input)}, and no put or delete could have come between`;
  return `the read returned ${shown}, not ${JSON.stringify(valueLeft(w))}, and no other ${model === 'kv' ? 'put' : 'write'} of ${shown} could have come between`;
}
