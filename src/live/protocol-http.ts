/**
 * From a protocol's answer to an HTTP answer: the one place where the
 * envelope's error codes (envelope.ts) become HTTP statuses, so every
 * adapter route fails the same way.
 *
 * | code | meaning | HTTP |
 * |---|---|---|
 * | 0 timeout, 13 crash | indefinite: it may have happened | 504, `indefinite: true` |
 * | 11 temporarily unavailable | definite | 503 |
 * | 12 malformed request | definite | 400 |
 * | 1 node not found, 20 key does not exist | definite | 404 |
 * | 10 not supported | definite | 501 |
 * | 14, 21, 22, 30 (abort, exists, precondition, conflict) | definite | 409 |
 * | anything else | | 500 |
 */
import { ErrorCode, isDefinite, isError, type Body, type ErrorBody } from '../protocols/envelope.js';
import type { LiveHost } from './host.js';
import { HttpError } from './http-error.js';

/** How long an adapter waits for a protocol's answer unless it knows better. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 5_000;

export function protocolError(reply: ErrorBody): HttpError {
  const { type: _type, code, text, in_reply_to: _r, msg_id: _m, ...extra } = reply;
  const detail = String(text);
  if (!isDefinite(code)) {
    const error = code === ErrorCode.Crash ? 'node stopped' : 'timeout';
    return new HttpError(504, error, detail, { ...extra, code, indefinite: true });
  }
  switch (code) {
    case ErrorCode.TemporarilyUnavailable:
      return new HttpError(503, 'unavailable', detail, { ...extra, code });
    case ErrorCode.MalformedRequest:
      return new HttpError(400, 'bad request', detail, { ...extra, code });
    case ErrorCode.NodeNotFound:
    case ErrorCode.KeyDoesNotExist:
      return new HttpError(404, 'not found', detail, { ...extra, code });
    case ErrorCode.NotSupported:
      return new HttpError(501, 'not supported', detail, { ...extra, code });
    case ErrorCode.Abort:
    case ErrorCode.KeyAlreadyExists:
    case ErrorCode.PreconditionFailed:
    case ErrorCode.TxnConflict:
      return new HttpError(409, 'conflict', detail, { ...extra, code });
  }
  return new HttpError(500, 'protocol error', detail, { ...extra, code });
}

/**
 * A client operation on this node's protocols: resolves with the reply
 * when it is of type `okType`, throws the mapped HttpError otherwise.
 */
export async function ask(host: LiveHost, body: Body, okType: string, timeoutMs = DEFAULT_OPERATION_TIMEOUT_MS): Promise<Body> {
  const reply = await host.request(body, timeoutMs);
  if (isError(reply)) throw protocolError(reply);
  if (reply.type !== okType) throw new HttpError(500, 'protocol error', `expected ${okType} in answer to ${body.type}, got ${reply.type}`);
  return reply;
}
