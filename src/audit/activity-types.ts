import { ANALYSIS_ACTIVITY_TYPES } from './actions/analysis';
import { AUDIO_ACTIVITY_TYPES } from './actions/audio-files';
import { AUTH_ACTIVITY_TYPES } from './actions/auth';
import { CASES_ACTIVITY_TYPES } from './actions/cases';
import { CONVERSATIONS_ACTIVITY_TYPES } from './actions/conversations';
import { EXPORTS_ACTIVITY_TYPES } from './actions/exports';
import { MAINTENANCE_ACTIVITY_TYPES } from './actions/maintenance';
import { TRANSCRIPTIONS_ACTIVITY_TYPES } from './actions/transcriptions';
import { WEBHOOKS_ACTIVITY_TYPES } from './actions/webhooks';

/**
 * Every audit action: code → description, as the seed writes them into `activity_types`.
 * The audit module keeps the catalogue, one file per feature module under `actions/`
 * (an `as const` object each), so feature modules depend on audit and never the reverse;
 * a new module's file is listed here.
 */
export const ACTIVITY_TYPES = {
  ...AUTH_ACTIVITY_TYPES,
  ...CASES_ACTIVITY_TYPES,
  ...AUDIO_ACTIVITY_TYPES,
  ...CONVERSATIONS_ACTIVITY_TYPES,
  ...TRANSCRIPTIONS_ACTIVITY_TYPES,
  ...ANALYSIS_ACTIVITY_TYPES,
  ...EXPORTS_ACTIVITY_TYPES,
  ...MAINTENANCE_ACTIVITY_TYPES,
  ...WEBHOOKS_ACTIVITY_TYPES,
} as const satisfies Record<string, string>;

/** An audit action that exists: a misspelt one fails the build, not a foreign key at run time. */
export type AuditAction = keyof typeof ACTIVITY_TYPES;

export const AUDIT_ACTIONS = Object.keys(ACTIVITY_TYPES) as AuditAction[];
