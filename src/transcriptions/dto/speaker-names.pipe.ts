import { PipeTransform } from '@nestjs/common';
import { ProblemFieldError, ValidationProblem } from '../../core/http/problem.exception';
import { controlCharacterMessage, PRINTABLE } from '../../core/http/validation-patterns';

export const MAX_RENAMED_SPEAKERS = 200;

/**
 * The body of PATCH /transcriptions/:id/speakers, `{ "Speaker_0": "Alice" }`: keys are
 * the speaker labels to rename, values their new names. Its keys are data, so no DTO
 * class can whitelist them; this pipe checks the shape instead (the global validation
 * pipe skips plain objects).
 */
export class SpeakerNamesPipe implements PipeTransform<unknown, Map<string, string>> {
  transform(body: unknown): Map<string, string> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ValidationProblem([
        { field: 'body', message: 'body must be an object mapping speaker labels to names' },
      ]);
    }
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length === 0 || entries.length > MAX_RENAMED_SPEAKERS) {
      throw new ValidationProblem([
        {
          field: 'body',
          message: `body must rename between 1 and ${MAX_RENAMED_SPEAKERS} speakers`,
        },
      ]);
    }
    const problems: ProblemFieldError[] = [];
    for (const [label, name] of entries) {
      if (label.length > 100) {
        problems.push({
          field: label.slice(0, 100),
          message: 'speaker labels are at most 100 characters',
        });
      } else if (typeof name !== 'string' || name.trim() === '' || name.length > 100) {
        problems.push({ field: label, message: `${label} must be a name of 1 to 100 characters` });
      } else if (!PRINTABLE.test(name)) {
        problems.push({ field: label, message: controlCharacterMessage(label) });
      }
    }
    if (problems.length > 0) throw new ValidationProblem(problems);
    return new Map(entries.map(([label, name]) => [label, (name as string).trim()]));
  }
}
