/**
 * The suspicion timer of SWIM, with Lifeguard's refinement (Dadgar, Phillips
 * and Currey, 2018; hashicorp/memberlist's suspicion.go).
 *
 * When a member becomes suspect, a timer starts; if the suspect has not
 * refuted by the time it fires, it is declared dead. How long should that
 * be? A false suspicion (a lost packet, a slow node) is usually raised by
 * one member alone, and the suspect needs time to hear of it and refute. A
 * real crash is soon noticed by many members independently. So the timer
 * starts long (`max`) and shrinks toward `min` as *independent*
 * confirmations arrive — the same suspicion raised by other members — on a
 * logarithmic curve: after k confirmations it reaches `min`.
 */

import type { NodeId } from './envelope.js';
import type { Env, TimerId } from './env.js';

/**
 * The timeout after `n` of the `k` wanted confirmations: `max` with none,
 * `min` with k or more, logarithmic in between. With k < 1 there is no
 * acceleration and the timeout is simply `min`.
 */
export function suspicionTimeout(n: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const fraction = Math.log(n + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - fraction * (maxMs - minMs)));
}

export class Suspicion {
  private readonly confirmers = new Set<NodeId>();
  private confirmations = 0;
  private timer: TimerId;
  private readonly startedAt: number;

  /** Starts the timer; `accuser` raised the suspicion and does not count as a confirmation. */
  constructor(
    private readonly env: Env,
    accuser: NodeId,
    readonly incarnation: number,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.confirmers.add(accuser);
    this.startedAt = env.now();
    this.timer = env.setTimer(suspicionTimeout(0, k, minMs, maxMs), onTimeout);
  }

  /**
   * Another member suspects the same incarnation. Returns true if this was a
   * new, independent confirmation (worth passing on), false otherwise.
   */
  confirm(from: NodeId): boolean {
    if (this.confirmations >= this.k || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    this.confirmations++;
    const elapsed = this.env.now() - this.startedAt;
    const remaining = suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs) - elapsed;
    this.env.clearTimer(this.timer);
    this.timer = this.env.setTimer(Math.max(0, remaining), this.onTimeout);
    return true;
  }

  cancel(): void {
    this.env.clearTimer(this.timer);
  }
}
