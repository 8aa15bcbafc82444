import { applyDecorators } from '@nestjs/common';
import { IsObject, ValidateBy, ValidationError, ValidationOptions } from 'class-validator';
import { ProblemException, ProblemFieldError } from './problem.exception';

/** SPEC "Limits that apply everywhere": how deeply a free JSON field may nest. */
export const MAX_JSON_FIELD_DEPTH = 16;
/** The name of the size constraint; the validation pipe answers 413 when it fails. */
export const JSON_FIELD_TOO_LARGE = 'jsonFieldTooLarge';

export interface JsonFieldLimits {
  /** Largest size of the field serialised as JSON (UTF-8 bytes). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays, the field itself being level 1. */
  maxDepth?: number;
}

/** Levels of object/array nesting in `value` (0 for a scalar); walks iteratively. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > deepest) deepest = depth;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

const kib = (bytes: number): string =>
  bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;

/**
 * A free JSON object field (metadata, details): an object, at most `maxBytes` as JSON
 * (413 beyond, see jsonFieldTooLarge) and `maxDepth` levels deep (400 beyond).
 * Pair with `@IsOmittable()` (or `@IsOptional()` where null is meaningful).
 */
export function IsBoundedJsonObject(
  limits: JsonFieldLimits,
  options?: ValidationOptions,
): PropertyDecorator {
  const maxDepth = limits.maxDepth ?? MAX_JSON_FIELD_DEPTH;
  return applyDecorators(
    IsObject(options),
    ValidateBy(
      {
        name: JSON_FIELD_TOO_LARGE,
        validator: {
          validate: (value: unknown): boolean =>
            typeof value !== 'object' ||
            value === null ||
            Buffer.byteLength(JSON.stringify(value)) <= limits.maxBytes,
          defaultMessage: (args) =>
            `${args?.property ?? 'field'} must be at most ${kib(limits.maxBytes)} as JSON`,
        },
      },
      options,
    ),
    ValidateBy(
      {
        name: 'jsonFieldDepth',
        validator: {
          validate: (value: unknown): boolean => jsonDepth(value) <= maxDepth,
          defaultMessage: (args) =>
            `${args?.property ?? 'field'} must not nest objects and arrays deeper than ${maxDepth} levels`,
        },
      },
      options,
    ),
  );
}

/** 413: a free JSON field is larger than its cap (SPEC "Limits that apply everywhere"). */
export class JsonFieldTooLargeProblem extends ProblemException {
  constructor(errors: ProblemFieldError[]) {
    super({
      status: 413,
      code: 'json-field-too-large',
      title: 'Content Too Large',
      detail: errors.map((e) => e.message).join('; '),
      errors,
    });
  }
}

/** The fields among `errors` (nested too) whose size cap failed. */
export function tooLargeJsonFields(errors: ValidationError[], parent = ''): ProblemFieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints?.[JSON_FIELD_TOO_LARGE];
    return [
      ...(own ? [{ field, message: own }] : []),
      ...tooLargeJsonFields(error.children ?? [], field),
    ];
  });
}
