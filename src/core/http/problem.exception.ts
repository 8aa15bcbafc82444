import { HttpException } from '@nestjs/common';

export interface ProblemFieldError {
  field: string;
  message: string;
}

export interface ProblemOptions {
  status: number;
  /** Stable machine-readable code, kebab-case; becomes the problem `type`. */
  code: string;
  title: string;
  detail: string;
  errors?: ProblemFieldError[];
  headers?: Record<string, string>;
  /** Extra members of the problem document (RFC 9457 extensions). */
  extensions?: Record<string, unknown>;
}

/**
 * The one exception shape the global filter turns into application/problem+json.
 * Modules subclass it with their own code enums (see e.g. AuthException).
 */
export class ProblemException extends HttpException {
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: ProblemFieldError[];
  readonly headers?: Record<string, string>;
  readonly extensions?: Record<string, unknown>;

  constructor(options: ProblemOptions) {
    super(options.detail, options.status);
    this.code = options.code;
    this.title = options.title;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extensions = options.extensions;
  }
}

export class ValidationProblem extends ProblemException {
  constructor(errors: ProblemFieldError[], detail = 'The request is not valid.') {
    super({ status: 400, code: 'validation-failed', title: 'Bad Request', detail, errors });
  }
}

export class NotFoundProblem extends ProblemException {
  constructor(what = 'resource') {
    super({
      status: 404,
      code: 'not-found',
      title: 'Not Found',
      detail: `The ${what} does not exist.`,
    });
  }
}

export class PreconditionFailedProblem extends ProblemException {
  constructor(detail = 'The resource has changed since you read it (If-Match does not match).') {
    super({ status: 412, code: 'precondition-failed', title: 'Precondition Failed', detail });
  }
}

export class ForbiddenProblem extends ProblemException {
  constructor(detail = 'You are not allowed to do this.') {
    super({ status: 403, code: 'missing-permission', title: 'Forbidden', detail });
  }
}

export class UnauthenticatedProblem extends ProblemException {
  constructor() {
    super({
      status: 401,
      code: 'unauthenticated',
      title: 'Unauthorized',
      detail: 'Authentication is required: send a valid bearer token or X-API-Key.',
      headers: { 'www-authenticate': 'Bearer' },
    });
  }
}
