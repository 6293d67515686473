/**
 * An error a route throws to answer with a given status and the node's
 * error shape `{error, detail, ...extra}`. Anything else a route throws is
 * answered as a 500 by the server's error handler.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly statusCode: number,
    /** Short, stable name of the problem: "not found", "peer unavailable", ... */
    readonly error: string,
    /** One sentence naming what went wrong. */
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${error}: ${detail}`);
  }
}
