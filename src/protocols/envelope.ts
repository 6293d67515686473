/**
 * The one message envelope every distlab node speaks.
 *
 * A message is `{src, dest, body}`. `body.type` names the message; a request
 * carries a `msg_id` (unique per sender) and its reply carries the same number
 * as `in_reply_to`. This is the envelope of Jepsen's Maelstrom, so the node
 * logic here could be driven by Maelstrom too.
 *
 * Failures travel as ordinary replies of type `error`, with a numeric code.
 * The code tells the caller whether the failure is *definite* (the operation
 * surely did not happen) or *indefinite* (it may have happened: a timeout is
 * the classic case — the request may have arrived and been applied, only the
 * answer got lost). Getting this distinction right is what lets a checker say
 * "no acknowledged write was lost" without being fooled by timeouts.
 */

export type NodeId = string;

export interface Body {
  type: string;
  msg_id?: number;
  in_reply_to?: number;
  [field: string]: unknown;
}

export interface Envelope<B extends Body = Body> {
  src: NodeId;
  dest: NodeId;
  body: B;
}

export interface ErrorBody extends Body {
  type: 'error';
  code: number;
  text: string;
}

/** Maelstrom's error codes; distlab uses the same numbers. */
export const ErrorCode = {
  /** The request timed out: it may or may not have happened. */
  Timeout: 0,
  /** The destination node does not exist. */
  NodeNotFound: 1,
  /** The node does not handle this message type. */
  NotSupported: 10,
  /** The operation could not be served right now (e.g. quorum not met); it did not happen. */
  TemporarilyUnavailable: 11,
  /** The request was malformed. */
  MalformedRequest: 12,
  /** The node crashed while handling the request: it may or may not have happened. */
  Crash: 13,
  /** The operation was aborted and did not happen. */
  Abort: 14,
  KeyDoesNotExist: 20,
  KeyAlreadyExists: 21,
  PreconditionFailed: 22,
  TxnConflict: 30,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

const INDEFINITE = new Set<number>([ErrorCode.Timeout, ErrorCode.Crash]);

/** A definite error means the operation certainly did not take effect. */
export function isDefinite(code: number): boolean {
  return !INDEFINITE.has(code);
}

export function errorBody(code: number, text: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { ...extra, type: 'error', code, text };
}

export function isError(body: Body): body is ErrorBody {
  return body.type === 'error' && typeof body.code === 'number';
}

/**
 * Node ids are strings ("1", "2", "n3"). Where an algorithm needs an order
 * (bully election, lowest-id leader, ring order ties) ids that are both
 * integers compare as numbers, so "10" comes after "9"; anything else
 * compares as text.
 */
export function compareIds(a: NodeId, b: NodeId): number {
  const intA = /^-?\d+$/.test(a);
  const intB = /^-?\d+$/.test(b);
  if (intA && intB) {
    const d = Number(a) - Number(b);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
