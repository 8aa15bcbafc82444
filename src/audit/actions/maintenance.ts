/** Audit actions of the data lifecycle jobs (SPEC section 12). */
export const MAINTENANCE_ACTIVITY_TYPES = {
  'audio.storage_missing': 'Audio file marked failed: its stored object is missing',
  'storage.check': 'Storage checked against the database; strays removed',
  'conversation.turns_purge': 'Turns of conversations of a case deleted long ago purged',
  'conversation.turns_replay': 'Dead-lettered turns put back into the persistence buffer',
  'backup.create': 'Scheduled backup written',
  'backup.fail': 'Scheduled backup failed',
} as const;
