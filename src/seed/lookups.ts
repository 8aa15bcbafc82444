import { SENTIMENTS } from '../analysis/analysis.lookups';
import { AUDIO_STATUSES } from '../audio-files/audio-files.lookups';
import { CASE_PRIORITIES, CASE_STATUSES, LANGUAGES } from '../cases/cases.lookups';

/** Every audit action (src/audit/activity-types.ts gathers them from their modules). */
export { ACTIVITY_TYPES } from '../audit/activity-types';

/** Lookup tables and their rows, inserted with ON CONFLICT DO NOTHING. */
export const LOOKUP_ROWS: { table: string; rows: Record<string, string | number | boolean>[] }[] = [
  { table: 'case_statuses', rows: CASE_STATUSES },
  { table: 'case_priorities', rows: CASE_PRIORITIES },
  { table: 'languages', rows: LANGUAGES },
  { table: 'audio_statuses', rows: AUDIO_STATUSES },
  { table: 'sentiments', rows: SENTIMENTS },
];
