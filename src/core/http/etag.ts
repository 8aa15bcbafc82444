import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ValidationProblem } from './problem.exception';

/** Strong ETag for a row version. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/**
 * Reads `If-Match` as an expected row version: `undefined` when absent or `*`.
 * A header that names no version of ours is a client error, not a silent pass.
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,10})"\s*$/.exec(value);
  if (!match) {
    throw new ValidationProblem(
      [{ field: 'If-Match', message: 'If-Match must be an ETag such as "3" returned by this API' }],
      'The If-Match header is malformed.',
    );
  }
  return Number(match[1]);
}

/** The expected version from `If-Match`, or undefined for an unconditional write. */
export const IfMatchVersion = createParamDecorator((_: unknown, context: ExecutionContext) =>
  parseIfMatch(context.switchToHttp().getRequest<FastifyRequest>().headers['if-match']),
);
