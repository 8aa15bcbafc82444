import type { ProblemFieldError } from './problem.exception';

/** How deeply arrays and objects may nest in a request body (a turn batch needs 6). */
export const MAX_INPUT_DEPTH = 32;

/**
 * Text Postgres refuses: NUL (in `text` and in `jsonb`) and unpaired UTF-16 surrogates
 * (`jsonb` rejects their `\ud800` escapes; `text` would silently get U+FFFD instead).
 */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The first place in parsed input (a JSON body, a query object) that no handler should
 * ever see: a string or key Postgres cannot store; nesting deeper than MAX_INPUT_DEPTH,
 * which class-transformer and class-validator walk recursively and would overflow the
 * stack on (a 500); or a key named like a member of Object.prototype (`hasOwnProperty`,
 * `constructor`, ...) or `prototype`. class-validator's whitelist looks names up in a
 * plain object, so it takes the former for declared properties and accepts them, and
 * Nest's ValidationPipe silently deletes `constructor` and `prototype` wherever they
 * are: either way an unknown field would pass instead of being refused (SPEC section 1).
 * Walks iteratively, so any depth is safe to check.
 */
export function findUnstorableInput(
  input: unknown,
  maxDepth = MAX_INPUT_DEPTH,
): ProblemFieldError | undefined {
  const stack: [unknown, string, number][] = [[input, '', 0]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) return unstorable(path);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) {
      return {
        field: path || 'body',
        message: `${path || 'body'} must not nest arrays and objects deeper than ${maxDepth} levels`,
      };
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push([value[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    const entries = Object.entries(value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]!;
      const child = path ? `${path}.${key}` : key;
      if (UNSTORABLE.test(key)) return unstorable(child);
      if (key in Object.prototype || key === 'prototype') {
        return { field: child, message: `property ${child} should not exist` };
      }
      stack.push([item, child, depth + 1]);
    }
  }
  return undefined;
}

function unstorable(path: string): ProblemFieldError {
  const field = path || 'body';
  return {
    field,
    message: `${field} must not contain NUL characters or unpaired UTF-16 surrogates`,
  };
}
