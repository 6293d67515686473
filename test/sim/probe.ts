/**
 * A probe protocol for simulator tests: records what each node receives and
 * exposes each node's Env so a test can act from inside a node.
 */
import type { Envelope, NodeId } from '../../src/protocols/envelope.js';
import type { Env, Protocol, ProtocolFactory } from '../../src/protocols/env.js';

export interface ProbeLog {
  received: Array<{ at: number; msg: Envelope }>;
  envs: Map<NodeId, Env>;
}

export function probe(log: ProbeLog): ProtocolFactory {
  return (env) => {
    log.envs.set(env.id, env);
    const p: Protocol = {
      name: 'probe',
      handles: ['probe.ping'],
      receive(msg) {
        log.received.push({ at: env.now(), msg });
        if (typeof msg.body.msg_id === 'number') env.reply(msg, { type: 'probe.ping_ok', n: msg.body.n });
      },
    };
    return p;
  };
}

export function newLog(): ProbeLog {
  return { received: [], envs: new Map() };
}
