import { ValidationError, ValidationPipe } from '@nestjs/common';
import { JsonFieldTooLargeProblem, tooLargeJsonFields } from './json-field';
import { ProblemFieldError, ValidationProblem } from './problem.exception';

/** Flattens nested class-validator errors into `{ field: 'a.b[0].c', message }` pairs. */
export function flattenValidationErrors(
  errors: ValidationError[],
  parent = '',
): ProblemFieldError[] {
  return errors.flatMap((error) => {
    const field = /^\d+$/.test(error.property)
      ? `${parent}[${error.property}]`
      : parent
        ? `${parent}.${error.property}`
        : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/**
 * Unknown fields are rejected (not dropped), types are converted, errors become
 * problem+json: 413 when a free JSON field is over its size cap, 400 otherwise.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const tooLarge = tooLargeJsonFields(errors);
      return tooLarge.length > 0
        ? new JsonFieldTooLargeProblem(tooLarge)
        : new ValidationProblem(flattenValidationErrors(errors));
    },
  });
}
