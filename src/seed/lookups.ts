import { ANALYSIS_ACTIVITY_TYPES } from '../analysis/analysis.activity-types';
import { SENTIMENTS } from '../analysis/analysis.lookups';
import { AUDIO_ACTIVITY_TYPES } from '../audio-files/audio-files.activity-types';
import { AUDIO_STATUSES } from '../audio-files/audio-files.lookups';
import { AUTH_ACTIVITY_TYPES } from '../auth/auth.activity-types';
import { CASES_ACTIVITY_TYPES } from '../cases/cases.activity-types';
import { CASE_PRIORITIES, CASE_STATUSES, LANGUAGES } from '../cases/cases.lookups';
import { CONVERSATIONS_ACTIVITY_TYPES } from '../conversations/conversations.activity-types';
import { TRANSCRIPTIONS_ACTIVITY_TYPES } from '../transcriptions/transcriptions.activity-types';

/**
 * Every audit action, gathered from the modules that own them. A module adding an
 * action adds it to its own catalogue and lists the catalogue here.
 */
export const ACTIVITY_TYPES: Record<string, string> = {
  ...AUTH_ACTIVITY_TYPES,
  ...CASES_ACTIVITY_TYPES,
  ...AUDIO_ACTIVITY_TYPES,
  ...CONVERSATIONS_ACTIVITY_TYPES,
  ...TRANSCRIPTIONS_ACTIVITY_TYPES,
  ...ANALYSIS_ACTIVITY_TYPES,
};

/** Lookup tables and their rows, inserted with ON CONFLICT DO NOTHING. */
export const LOOKUP_ROWS: { table: string; rows: Record<string, string | number | boolean>[] }[] = [
  { table: 'case_statuses', rows: CASE_STATUSES },
  { table: 'case_priorities', rows: CASE_PRIORITIES },
  { table: 'languages', rows: LANGUAGES },
  { table: 'audio_statuses', rows: AUDIO_STATUSES },
  { table: 'sentiments', rows: SENTIMENTS },
];
