/**
 * Strict request validation for the runtime's routes.
 *
 * Fastify's default validator quietly strips unknown keys and coerces
 * "1" into 1. The runtime's routes want the opposite: an unknown key or a
 * wrong type is a mistake worth a 400 with a reason. These two helpers are
 * set per route (`validatorCompiler`, `errorHandler`), so they change
 * nothing for routes registered by others.
 */

import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** Validates with TypeBox's own checker: no coercion, no removal of unknown keys. */
export const strictValidator: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema as TSchema);
  return (data: unknown) => {
    if (check.Check(data)) return { value: data };
    const first = check.Errors(data).First();
    const where = first && first.path !== '' ? first.path : '(root)';
    return { error: new Error(`${httpPart ?? 'request'} ${where}: ${first?.message ?? 'invalid'}`) };
  };
};

/** Told of every request that failed with a server error (answered 500). */
export type ServerErrorReporter = (error: Error, request: FastifyRequest) => void;

export type RouteErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * An error handler that answers every client error as JSON `{error, detail}`
 * with its status, and anything else as a 500 that it reports — the app may
 * run without a logger, so a failure must not depend on one to be seen.
 */
export function httpErrorHandler(report: ServerErrorReporter): RouteErrorHandler {
  return (error, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) report(error, request);
    void reply.code(status).send({
      error: STATUS_CODES[status] ?? 'Error',
      detail: status === 500 ? 'internal error' : error.message,
    });
  };
}
