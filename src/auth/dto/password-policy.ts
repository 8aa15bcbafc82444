import { applyDecorators } from '@nestjs/common';
import { IsString, MaxLength, ValidateBy } from 'class-validator';

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;
/** Fewer distinct characters than this ('aaaaaaaaaaaa', '121212121212') is no password. */
export const PASSWORD_MIN_DISTINCT = 5;

/**
 * Whether a password meets the policy: at least PASSWORD_MIN characters that are not
 * whitespace (twelve spaces passed the old length-only rule; passphrases with spaces are
 * fine), of at least PASSWORD_MIN_DISTINCT different characters. No breached-password
 * list is consulted (see README "Security model").
 */
export function meetsPasswordPolicy(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const content = [...value.replace(/\s/gu, '')];
  return content.length >= PASSWORD_MIN && new Set(content).size >= PASSWORD_MIN_DISTINCT;
}

/** The password policy for a new password (users, resets, password changes). */
export function PasswordPolicy(): PropertyDecorator {
  return applyDecorators(
    IsString(),
    MaxLength(PASSWORD_MAX),
    ValidateBy({
      name: 'passwordPolicy',
      validator: {
        validate: meetsPasswordPolicy,
        defaultMessage: (args) =>
          `${args?.property ?? 'password'} must have at least ${PASSWORD_MIN} characters besides spaces, ` +
          `of at least ${PASSWORD_MIN_DISTINCT} different characters`,
      },
    }),
  );
}
