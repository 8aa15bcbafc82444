import { ANALYSIS_ACTIVITY_TYPES } from '../analysis/analysis.activity-types';
import { AUDIO_ACTIVITY_TYPES } from '../audio-files/audio-files.activity-types';
import { AUTH_ACTIVITY_TYPES } from '../auth/auth.activity-types';
import { CASES_ACTIVITY_TYPES } from '../cases/cases.activity-types';
import { CONVERSATIONS_ACTIVITY_TYPES } from '../conversations/conversations.activity-types';
import { TRANSCRIPTIONS_ACTIVITY_TYPES } from '../transcriptions/transcriptions.activity-types';

/**
 * Every audit action, gathered from the modules that own them: code → description, as the
 * seed writes them into `activity_types`. A module adds an action to its own
 * `*.activity-types.ts` catalogue (an `as const` object); a new catalogue is listed here.
 */
export const ACTIVITY_TYPES = {
  ...AUTH_ACTIVITY_TYPES,
  ...CASES_ACTIVITY_TYPES,
  ...AUDIO_ACTIVITY_TYPES,
  ...CONVERSATIONS_ACTIVITY_TYPES,
  ...TRANSCRIPTIONS_ACTIVITY_TYPES,
  ...ANALYSIS_ACTIVITY_TYPES,
} as const satisfies Record<string, string>;

/** An audit action that exists: a misspelt one fails the build, not a foreign key at run time. */
export type AuditAction = keyof typeof ACTIVITY_TYPES;

export const AUDIT_ACTIONS = Object.keys(ACTIVITY_TYPES) as AuditAction[];
