import { ApiProperty } from '@nestjs/swagger';
import { ValidateBy } from 'class-validator';
import { JSON_FIELD_TOO_LARGE, jsonDepth, MAX_JSON_FIELD_DEPTH } from '../../core/http/json-field';
import { SETTING_MAX_BYTES } from '../setting-rules';

export class PutSettingDto {
  @ApiProperty({
    description:
      'Any JSON up to 16 KiB. Known keys are validated: locale (BCP 47), timezone (IANA), ' +
      'pageSize (1..100), notifications.muted (array of notification types).',
  })
  // Not IsDefined: JSON null is a value like any other; only a missing field is refused.
  @ValidateBy({
    name: 'isPresent',
    validator: {
      validate: (value: unknown): boolean => value !== undefined,
      defaultMessage: () => 'value is required (send DELETE to remove a setting)',
    },
  })
  // Named like IsBoundedJsonObject's size check, so the validation pipe answers 413.
  @ValidateBy({
    name: JSON_FIELD_TOO_LARGE,
    validator: {
      validate: (value: unknown): boolean =>
        Buffer.byteLength(JSON.stringify(value) ?? '') <= SETTING_MAX_BYTES,
      defaultMessage: () => 'value must be at most 16 KiB as JSON',
    },
  })
  @ValidateBy({
    name: 'jsonFieldDepth',
    validator: {
      validate: (value: unknown): boolean => jsonDepth(value) <= MAX_JSON_FIELD_DEPTH,
      defaultMessage: () =>
        `value must not nest objects and arrays deeper than ${MAX_JSON_FIELD_DEPTH} levels`,
    },
  })
  value!: unknown;
}

export class SettingResponse {
  @ApiProperty({ example: 'pageSize' })
  key!: string;

  @ApiProperty({
    description: 'Any JSON value (known keys: see PUT /me/settings/{key})',
    example: 50,
    oneOf: [
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
      { type: 'array', items: {} },
      { type: 'object' },
    ],
  })
  value!: unknown;
}
