import { NOTIFICATION_TYPES, NotificationType } from '../core/events/domain-event';

/** SPEC section 11: what a settings key may look like. */
export const SETTING_KEY = /^[a-z][a-z0-9_.-]{0,63}$/;
/** A value is any JSON up to this many UTF-8 bytes. */
export const SETTING_MAX_BYTES = 16 * 1024;
/** Free keys are free, not unbounded: 100 × 16 KiB is the most one user stores. */
export const MAX_SETTINGS_PER_USER = 100;

export const PAGE_SIZE_KEY = 'pageSize';
export const MUTED_KEY = 'notifications.muted';

/** The outcome of checking a known key's value: the value to store, or why not. */
export type SettingCheck = { ok: true; value: unknown } | { ok: false; message: string };

const IANA_ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

function locale(value: unknown): SettingCheck {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
    return { ok: false, message: 'locale must be a BCP 47 language tag such as "en-GB"' };
  }
  try {
    const [canonical] = Intl.getCanonicalLocales(value);
    if (canonical) return { ok: true, value: canonical };
  } catch {
    // RangeError: not a well-formed tag.
  }
  return { ok: false, message: 'locale must be a BCP 47 language tag such as "en-GB"' };
}

function timezone(value: unknown): SettingCheck {
  const message = 'timezone must be an IANA time zone name such as "Europe/Berlin"';
  if (typeof value !== 'string' || value.length > 64 || !IANA_ZONE.test(value)) {
    return { ok: false, message };
  }
  try {
    // Throws RangeError for a name the time zone database does not know.
    new Intl.DateTimeFormat('en', { timeZone: value });
    return { ok: true, value };
  } catch {
    return { ok: false, message };
  }
}

function pageSize(value: unknown): SettingCheck {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 100
    ? { ok: true, value }
    : { ok: false, message: 'pageSize must be an integer from 1 to 100' };
}

function muted(value: unknown): SettingCheck {
  const known = NOTIFICATION_TYPES as readonly string[];
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && known.includes(t))) {
    return {
      ok: false,
      message: `notifications.muted must be an array of notification types (${NOTIFICATION_TYPES.join(', ')})`,
    };
  }
  // Stored once each, in catalogue order: the subscriber tests membership only.
  return { ok: true, value: NOTIFICATION_TYPES.filter((t: NotificationType) => value.includes(t)) };
}

// A Map, not an object literal: a key such as "constructor" must not find a prototype member.
const KNOWN = new Map<string, (value: unknown) => SettingCheck>([
  ['locale', locale],
  ['timezone', timezone],
  [PAGE_SIZE_KEY, pageSize],
  [MUTED_KEY, muted],
]);

/**
 * Whether `key` may be stored: a known key, or a free key matching SETTING_KEY. The SPEC
 * names `pageSize` itself, which its own pattern (lower case only) would refuse; the
 * known keys are accepted by name, the pattern applies to everything else.
 */
export function isSettingKey(key: string): boolean {
  return KNOWN.has(key) || SETTING_KEY.test(key);
}

/** Checks a value for `key`: known keys by their rule, free keys pass as they are. */
export function checkSetting(key: string, value: unknown): SettingCheck {
  const rule = KNOWN.get(key);
  return rule ? rule(value) : { ok: true, value };
}
