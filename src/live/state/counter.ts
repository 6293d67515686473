/**
 * The handout's visit counter: `GET /` adds one and shows the new value.
 * Kept in memory, so each process (and each `--workers` worker) has its own.
 */
export class VisitCounter {
  private count = 0;

  /** Counts one visit and returns the new total. */
  visit(): number {
    this.count += 1;
    return this.count;
  }

  get value(): number {
    return this.count;
  }
}
