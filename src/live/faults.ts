/**
 * Fault injection inside a live node's transport, so chaos needs no root.
 *
 * Each node holds its own rules, changed at run time through
 * `/admin/faults`:
 *
 * - `drop`: the probability that an envelope this node sends is lost.
 * - `delayMs` (+ up to `jitterMs` more, uniformly): how long an envelope this
 *   node sends waits before it goes on the wire. Jitter can reorder messages,
 *   as a real network does.
 * - `blockTo` / `blockFrom`: partitions. An envelope to a node in `blockTo`
 *   is dropped when this node sends it; an envelope from a node in
 *   `blockFrom` is dropped when it arrives here. Naming a node in one list
 *   cuts one direction; in both, the link is cut both ways — and because
 *   each list is checked on this node, the rule holds even if the other
 *   node knows nothing about it.
 *
 * Drop and delay act on outgoing envelopes only, so setting `drop: 0.1` on
 * every node loses 10% of messages, not 19%.
 */

import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { NodeId } from '../protocols/envelope.js';
import { strictValidator, type RouteErrorHandler } from './strict-body.js';

export interface FaultRules {
  /** Probability in [0, 1] that an outgoing envelope is lost. */
  drop: number;
  /** Milliseconds added to every outgoing envelope. */
  delayMs: number;
  /** Up to this many milliseconds more, drawn uniformly per envelope. */
  jitterMs: number;
  /** Nodes this node's envelopes never reach. */
  blockTo: NodeId[];
  /** Nodes whose envelopes this node refuses. */
  blockFrom: NodeId[];
}

export const NO_FAULTS: Readonly<FaultRules> = Object.freeze({ drop: 0, delayMs: 0, jitterMs: 0, blockTo: [], blockFrom: [] });

const MAX_DELAY_MS = 60_000;
const NodeList = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000, uniqueItems: true });

/** A change to the rules: the fields given replace the current ones, the others stay. */
export const FaultPatch = Type.Object(
  {
    drop: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    delayMs: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_DELAY_MS })),
    jitterMs: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_DELAY_MS })),
    blockTo: Type.Optional(NodeList),
    blockFrom: Type.Optional(NodeList),
  },
  { additionalProperties: false },
);
export type FaultPatch = Static<typeof FaultPatch>;

/** What to do with one envelope. */
export type FaultVerdict = { deliver: true; delayMs: number } | { deliver: false; reason: string };

export class FaultInjector {
  private current: FaultRules = copy(NO_FAULTS);

  constructor(
    private readonly random: () => number,
    initial: FaultPatch = {},
    private readonly onChange: (rules: FaultRules) => void = () => {},
  ) {
    this.current = { ...this.current, ...copy(initial) };
  }

  rules(): FaultRules {
    return copy(this.current);
  }

  /** Applies a patch (fields given replace the current ones) and returns the new rules. */
  set(patch: FaultPatch): FaultRules {
    this.current = { ...this.current, ...copy(patch) };
    this.onChange(this.rules());
    return this.rules();
  }

  /** Removes every fault. */
  heal(): FaultRules {
    this.current = copy(NO_FAULTS);
    this.onChange(this.rules());
    return this.rules();
  }

  /** The verdict for an envelope this node is about to send to `dest`. */
  onSend(dest: NodeId): FaultVerdict {
    const r = this.current;
    if (r.blockTo.includes(dest)) return { deliver: false, reason: 'partition' };
    if (r.drop > 0 && this.random() < r.drop) return { deliver: false, reason: 'drop' };
    const delayMs = r.delayMs + (r.jitterMs > 0 ? this.random() * r.jitterMs : 0);
    return { deliver: true, delayMs };
  }

  /** The verdict for an envelope that arrived from `src`. */
  onReceive(src: NodeId): FaultVerdict {
    if (this.current.blockFrom.includes(src)) return { deliver: false, reason: 'partition' };
    return { deliver: true, delayMs: 0 };
  }
}

function copy<T extends Partial<FaultRules>>(rules: T): T {
  const out = { ...rules };
  if (rules.blockTo) out.blockTo = [...rules.blockTo];
  if (rules.blockFrom) out.blockFrom = [...rules.blockFrom];
  return out;
}

/**
 * `GET /admin/faults` shows the rules, `POST /admin/faults` changes them
 * (unknown keys or out-of-range values → 400), `DELETE /admin/faults` heals
 * everything. Each answers with the rules now in force.
 */
export function registerFaultRoutes(app: FastifyInstance, faults: FaultInjector, errorHandler: RouteErrorHandler): void {
  app.get('/admin/faults', async () => faults.rules());
  app.route<{ Body: FaultPatch }>({
    method: 'POST',
    url: '/admin/faults',
    schema: { body: FaultPatch },
    validatorCompiler: strictValidator,
    errorHandler,
    handler: async (request) => faults.set(request.body),
  });
  app.delete('/admin/faults', async () => faults.heal());
}
