import { applyDecorators } from '@nestjs/common';
import { Matches, ValidateBy, ValidateIf, ValidationOptions, buildMessage } from 'class-validator';

/**
 * The validation patterns every module shares, in one place: what counts as printable
 * text, what a UUID looks like, and what "optional" means for a JSON body field.
 */

/** A UUID in any letter case (route parameters, ids in bodies and CLI options). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A UUID as this service writes it (storage keys): lower case only. */
export const UUID_LOWERCASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/*
 * Control characters (C0, DEL, C1) can forge log lines and terminal output, and the
 * bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make text read
 * differently from what it is ("Trojan Source"). Neither has a place in a label.
 */
/** One line of text: no control characters at all, no bidi overrides. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/;
/** Text that may span lines: as PRINTABLE, but tab, line feed and carriage return pass. */
export const PRINTABLE_MULTILINE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/;

const CONTROL_MESSAGE = 'must not contain control or bidirectional-override characters';

/** A single-line free-text field (names, titles, labels, reasons). */
export function IsPrintableText(options?: ValidationOptions): PropertyDecorator {
  return Matches(PRINTABLE, { message: `$property ${CONTROL_MESSAGE}`, ...options });
}

/** A multi-line free-text field (descriptions, notes, transcript text): \t \n \r allowed. */
export function IsMultilineText(options?: ValidationOptions): PropertyDecorator {
  return Matches(PRINTABLE_MULTILINE, {
    message: `$property ${CONTROL_MESSAGE} other than tab and line breaks`,
    ...options,
  });
}

/** For hand-written checks (pipes) that name the field themselves. */
export const controlCharacterMessage = (field: string): string => `${field} ${CONTROL_MESSAGE}`;

/**
 * The body field may be left out, but not sent as `null`. class-validator's
 * `@IsOptional()` skips both, so a `null` for a NOT NULL column reached the database
 * and came back as a 500. Use `@IsOptional()` only where `null` is a meaningful value.
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_: object, value: unknown) => value !== undefined),
    ValidateBy(
      {
        name: 'isNotNull',
        validator: {
          validate: (value: unknown): boolean => value !== null,
          defaultMessage: buildMessage(
            (each) => `${each}$property must not be null (leave it out instead)`,
          ),
        },
      },
      options,
    ),
  );
}
