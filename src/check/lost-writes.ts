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
import { type HistoryEvent, type Operation, type PairedHistory, type Value } from './history.js';
import { groupByKey, modelledHistory, type ModelName, sameState, stateText } from './models.js';

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
const replaces = (op: Operation) => !isRead(op) && op.f !== 'append';

/** The value a replacing operation leaves behind (write/put: its value, delete: absent, cas: its new value). */
function valueLeft(op: Operation): Value {
  if (op.f === 'delete') return null;
  if (op.f === 'cas') return (op.input as [Value, Value])[1];
  return op.input ?? null;
}

export function checkLostWrites(history: readonly HistoryEvent[] | PairedHistory, options: LostWritesOptions = {}): LostWritesResult {
  const started = Date.now();
  const { paired, modelName } = modelledHistory(history, options.model);
  const byKey = groupByKey(paired.operations);

  let acknowledgedWrites = 0;
  let checkedWrites = 0;
  const lost: LostWrite[] = [];
  for (const ops of byKey.values()) {
    const key = new KeyHistory(modelName, ops);
    for (const w of key.okWrites) {
      acknowledgedWrites++;
      // the reads invoked after W was acknowledged, up to the point W is certainly overwritten
      const first = firstAfter(key.readInvokes, w.completedAt);
      if (first < key.reads.length) checkedWrites++;
      const cut = key.overwrittenAt(w);
      for (let i = first; i < key.reads.length; i++) {
        const r = key.reads[i] as Operation;
        if (r.invokedAt >= cut) break;
        if (!key.explains(w, r)) {
          lost.push({ write: w, read: r, why: whyLost(modelName, w, r) });
          break;
        }
      }
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

/** Index of the first element of a sorted array greater than `t` (binary search). */
function firstAfter(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * One key's operations, indexed so that each question above is answered
 * without scanning the whole history (histories of long runs are large).
 * Operations arrive in invoke order, so every list here is sorted by invoke.
 */
class KeyHistory {
  readonly reads: Operation[];
  readonly readInvokes: number[];
  readonly okWrites: Operation[];
  private readonly okWriteInvokes: number[];
  /** The longest an acknowledged write took, in events: bounds how far back a scan must look. */
  private readonly longestOkWrite: number;
  /** Acknowledged replacing writes, and the earliest acknowledgement among each suffix of them. */
  private readonly okReplaceInvokes: number[];
  private readonly okReplaceEarliestAck: number[];
  /** Indefinite writes are concurrent with everything after their invoke: only the earliest invoke matters. */
  private readonly infoAppendFirst: number;
  private readonly infoReplaceFirst: number;
  private readonly infoReplaceFirstByValue = new Map<string, number>();

  constructor(
    private readonly model: ModelName,
    ops: Operation[],
  ) {
    this.reads = ops.filter((op) => isRead(op) && op.status === 'ok');
    this.readInvokes = this.reads.map((op) => op.invokedAt);
    this.okWrites = ops.filter((op) => !isRead(op) && op.status === 'ok');
    this.okWriteInvokes = this.okWrites.map((op) => op.invokedAt);
    this.longestOkWrite = this.okWrites.reduce((longest, op) => Math.max(longest, op.completedAt - op.invokedAt), 0);
    const okReplaces = this.okWrites.filter(replaces);
    this.okReplaceInvokes = okReplaces.map((op) => op.invokedAt);
    this.okReplaceEarliestAck = okReplaces.map((op) => op.completedAt);
    for (let i = okReplaces.length - 2; i >= 0; i--) {
      this.okReplaceEarliestAck[i] = Math.min(this.okReplaceEarliestAck[i] as number, this.okReplaceEarliestAck[i + 1] as number);
    }
    const info = ops.filter((op) => !isRead(op) && op.status === 'info');
    this.infoAppendFirst = info.find((op) => op.f === 'append')?.invokedAt ?? Infinity;
    this.infoReplaceFirst = info.find(replaces)?.invokedAt ?? Infinity;
    for (const op of info.filter(replaces)) {
      const text = stateText(model, valueLeft(op));
      if (!this.infoReplaceFirstByValue.has(text)) this.infoReplaceFirstByValue.set(text, op.invokedAt);
    }
  }

  /**
   * When W is certainly overwritten: the earliest acknowledgement of another
   * replacing write invoked after W was acknowledged (Infinity if none).
   */
  overwrittenAt(w: Operation): number {
    const i = firstAfter(this.okReplaceInvokes, w.completedAt);
    return i < this.okReplaceEarliestAck.length ? (this.okReplaceEarliestAck[i] as number) : Infinity;
  }

  /** Does R see W, or could something falling between them have produced what R returned? */
  explains(w: Operation, r: Operation): boolean {
    if (w.f === 'append') {
      if (typeof r.output === 'string' && r.output.includes(String(w.input))) return true;
      // only a put or delete between can have removed the appended text
      return this.infoReplaceFirst < r.completedAt || this.someOkBetween(w, r, replaces);
    }
    if (sameState(this.model, valueLeft(w), r.output)) return true;
    // R read the value of something between: an append, or a write of exactly that value
    const byValue = this.infoReplaceFirstByValue.get(stateText(this.model, r.output)) ?? Infinity;
    if (this.infoAppendFirst < r.completedAt || byValue < r.completedAt) return true;
    return this.someOkBetween(w, r, (x) => x.f === 'append' || sameState(this.model, valueLeft(x), r.output));
  }

  /**
   * Is there an acknowledged write X (not W) with X.invoke < R.complete and
   * X.complete > W.invoke that passes the test? Scans back from the last
   * write invoked before R completed, only as far as a write could still
   * have been running when W was invoked.
   */
  private someOkBetween(w: Operation, r: Operation, test: (x: Operation) => boolean): boolean {
    for (let i = firstAfter(this.okWriteInvokes, r.completedAt - 1) - 1; i >= 0; i--) {
      const x = this.okWrites[i] as Operation;
      if (x.invokedAt + this.longestOkWrite <= w.invokedAt) break;
      if (x !== w && x.completedAt > w.invokedAt && test(x)) return true;
    }
    return false;
  }
}

function whyLost(model: ModelName, w: Operation, r: Operation): string {
  const shown = JSON.stringify(r.output ?? null);
  if (w.f === 'append') return `the read returned ${shown}, which does not contain ${JSON.stringify(w.input)}, and no put or delete could have come between`;
  return `the read returned ${shown}, not ${JSON.stringify(valueLeft(w))}, and no other ${model === 'kv' ? 'put' : 'write'} of ${shown} could have come between`;
}
