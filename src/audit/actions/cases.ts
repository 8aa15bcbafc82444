/** Audit actions of the cases module. */
export const CASES_ACTIVITY_TYPES = {
  'case.create': 'Case created',
  'case.update': 'Case changed',
  'case.close': 'Case closed',
  'case.reopen': 'Case reopened',
  'case.delete': 'Case deleted (soft)',
  'case.participant_add': 'Participant added to a case',
  'case.participant_remove': 'Participant removed from a case',
  'case.participant_role_changed': "Participant's role in a case changed",
  'case.note_add': 'Note added to a case',
  'case.hold': 'Legal hold placed on a case',
  'case.hold_release': 'Legal hold lifted from a case',
} as const;
