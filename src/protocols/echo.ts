/**
 * Echo: the smallest protocol, and the template for every other one.
 *
 * A node that receives `{type: "echo", echo: X}` answers `{type: "echo_ok",
 * echo: X}`. That is all — but it shows the shape every protocol here has:
 * a factory that takes the environment, a `handles` list naming the message
 * types it owns, and a `receive` that reacts to one message at a time using
 * only what the environment offers.
 */

import type { Envelope } from './envelope.js';
import type { Env, Protocol, ProtocolFactory } from './env.js';

export class Echo implements Protocol {
  readonly name = 'echo';
  readonly handles = ['echo'] as const;

  constructor(private readonly env: Env) {}

  receive(msg: Envelope): void {
    this.env.reply(msg, { type: 'echo_ok', echo: msg.body.echo });
  }
}

export const echo: ProtocolFactory = (env) => new Echo(env);
