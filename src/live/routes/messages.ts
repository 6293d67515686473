/**
 * The handouts' message log: `POST /message {from, payload}` appends to the
 * node's log (a ring token or a broadcast arriving), `GET /messages` lists
 * it, oldest first.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { jsonId } from '../roster.js';

export const MessageBody = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 256 }),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type MessageBody = Static<typeof MessageBody>;

export async function messageRoutes(app: FastifyInstance): Promise<void> {
  const node = app.distlab;
  const nodeId = jsonId(node.id);

  app.post<{ Body: MessageBody }>('/message', { schema: { body: MessageBody } }, async (request) => {
    const { from, payload } = request.body;
    const logged = node.messages.append(from, payload);
    return { status: 'received', node_id: nodeId, seq: logged.seq };
  });

  app.get('/messages', async () => ({
    node_id: nodeId,
    count: node.messages.size,
    dropped: node.messages.dropped,
    messages: node.messages.list(),
  }));
}
