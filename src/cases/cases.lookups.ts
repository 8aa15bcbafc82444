/** Lookup rows the cases module owns; seeded idempotently. */
export const CASE_STATUSES = [
  { code: 'active', description: 'Being worked on', isActive: true },
  { code: 'pending', description: 'Waiting on something outside the team', isActive: true },
  { code: 'closed', description: 'Finished; reopen to change it', isActive: false },
];

export const CASE_PRIORITIES = [
  { code: 'high', description: 'Handle first', weight: 30 },
  { code: 'medium', description: 'Normal priority', weight: 20 },
  { code: 'low', description: 'When time allows', weight: 10 },
];

export const LANGUAGES = [
  { code: 'en', name: 'English', searchConfig: 'english' },
  { code: 'de', name: 'German', searchConfig: 'german' },
  { code: 'fr', name: 'French', searchConfig: 'french' },
  { code: 'es', name: 'Spanish', searchConfig: 'spanish' },
  { code: 'it', name: 'Italian', searchConfig: 'italian' },
  { code: 'nl', name: 'Dutch', searchConfig: 'dutch' },
  { code: 'pt', name: 'Portuguese', searchConfig: 'portuguese' },
  { code: 'sv', name: 'Swedish', searchConfig: 'swedish' },
  { code: 'pl', name: 'Polish', searchConfig: 'simple' },
  { code: 'und', name: 'Undetermined', searchConfig: 'simple' },
];
