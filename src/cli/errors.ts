/**
 * Exit codes of every distlab command:
 *   0 — success
 *   1 — the operation failed (a node did not answer, a checker found a violation, ...)
 *   2 — bad usage (unknown flag, bad value, unreadable roster), or a checker cannot tell
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad usage: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation ran and failed: printed as one line, exit code 1. */
export class OperationFailed extends Error {
  override readonly name = 'OperationFailed';
}
