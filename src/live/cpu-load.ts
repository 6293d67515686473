/**
 * The handout's "scaling journey" load: a deliberately naive recursive
 * Fibonacci, computed on the request's thread. While it runs the process can
 * serve nothing else — which is the lesson: one busy process queues every
 * other request, more processes (`--workers`) or more nodes share the work.
 * fib(30) takes a few milliseconds in Node, fib(35) around a tenth of a
 * second, and each step up multiplies the time by about 1.6.
 */
export function fib(n: number): number {
  return n <= 1 ? n : fib(n - 1) + fib(n - 2);
}

/** Burns CPU for the given load factor (0 = none); returns the time spent in ms. */
export function burnCpu(loadFactor: number): number {
  if (loadFactor <= 0) return 0;
  const start = performance.now();
  fib(loadFactor);
  return performance.now() - start;
}

/** The largest load factor accepted: fib(45) already takes many seconds. */
export const MAX_LOAD_FACTOR = 45;
