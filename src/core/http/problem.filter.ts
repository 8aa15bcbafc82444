import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDependencyOutage } from '../database/postgres-errors';
import { ProblemException } from './problem.exception';

interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  errors?: { field: string; message: string }[];
  [extension: string]: unknown;
}

const PROBLEM_BASE = 'https://verbatim.dev/problems/';

/** By name: the storage driver may be loaded in another module registry than this filter. */
const isStorageUnavailable = (error: unknown): boolean =>
  (error as { name?: unknown } | null)?.name === 'StorageUnavailableError';

function codeForStatus(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** Errors thrown by Fastify itself (body parsing, limits) carry a statusCode. */
function isFastifyError(
  error: unknown,
): error is { statusCode: number; message: string; code?: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { statusCode?: unknown }).statusCode === 'number'
  );
}

/**
 * What of an unexpected error reaches the log: never the whole object, whose own
 * properties may hold query parameters (password hashes, tokens) or request bodies.
 */
function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    stack: error.stack,
  };
}

/**
 * Fastify answers a few malformed requests while routing, before Nest and the filter
 * below ever see them: a path parameter longer than maxParamLength (414), a path with a
 * broken %-escape (400). Passed as the adapter's `frameworkErrors`, this sends those as
 * problem documents too.
 */
export function sendFrameworkError(
  error: { statusCode?: number; message: string },
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status =
    error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
      ? error.statusCode
      : 400;
  const problem: ProblemDocument = {
    type: PROBLEM_BASE + codeForStatus(status),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: error.message,
    instance: request.url.split('?')[0] ?? '/',
    requestId: String(request.id),
  };
  void reply
    .status(status)
    .headers({
      'content-type': 'application/problem+json; charset=utf-8',
      'x-request-id': String(request.id),
    })
    .send(JSON.stringify(problem));
}

/**
 * Every error leaves as RFC 9457 application/problem+json. Unexpected errors are
 * logged with their stack and answered with a bare 500: no stack or SQL reaches a client.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const request = context.getRequest<FastifyRequest>();
    const reply = context.getResponse<FastifyReply>();
    const { problem, headers } = this.toProblem(exception, request, reply);
    if (problem.status >= 500) {
      this.logger.error({ err: describeError(exception), requestId: request.id }, 'request failed');
    }
    void reply
      .status(problem.status)
      .headers({ ...headers, 'content-type': 'application/problem+json; charset=utf-8' })
      .send(JSON.stringify(problem));
  }

  private toProblem(
    exception: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
  ): { problem: ProblemDocument; headers: Record<string, string> } {
    const base = { instance: request.url.split('?')[0] ?? '/', requestId: String(request.id) };
    if (exception instanceof ProblemException) {
      return {
        problem: {
          type: PROBLEM_BASE + exception.code,
          title: exception.title,
          status: exception.getStatus(),
          detail: exception.detail,
          ...base,
          ...(exception.errors ? { errors: exception.errors } : {}),
          ...exception.extensions,
        },
        headers: exception.headers ?? {},
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const headers: Record<string, string> = {};
      const body = exception.getResponse();
      // Health checks put their per-dependency verdicts here.
      const checks =
        typeof body === 'object' && body !== null && 'details' in body
          ? { checks: body.details }
          : {};
      if (status === 429 && reply.getHeader('retry-after') === undefined)
        headers['retry-after'] = '1';
      return {
        problem: {
          type: PROBLEM_BASE + codeForStatus(status),
          title: STATUS_CODES[status] ?? 'Error',
          status,
          detail: status === 404 ? `No route or resource at ${base.instance}.` : exception.message,
          ...base,
          ...checks,
        },
        headers,
      };
    }
    if (isFastifyError(exception) && exception.statusCode >= 400 && exception.statusCode < 500) {
      const status = exception.statusCode;
      return {
        problem: {
          type: PROBLEM_BASE + codeForStatus(status),
          title: STATUS_CODES[status] ?? 'Error',
          status,
          detail: exception.message,
          ...base,
        },
        headers: {},
      };
    }
    if (isDependencyOutage(exception) || isStorageUnavailable(exception)) {
      return {
        problem: {
          type: PROBLEM_BASE + 'dependency-unavailable',
          title: 'Service Unavailable',
          status: 503,
          detail: 'A service this request depends on is unavailable. Retry shortly.',
          ...base,
        },
        headers: { 'retry-after': '5' },
      };
    }
    return {
      problem: {
        type: PROBLEM_BASE + 'internal-error',
        title: 'Internal Server Error',
        status: 500,
        detail: 'An unexpected error occurred. Quote the requestId when reporting it.',
        ...base,
      },
      headers: {},
    };
  }
}
