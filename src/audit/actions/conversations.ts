/** Audit actions of the conversations module (never one per turn). */
export const CONVERSATIONS_ACTIVITY_TYPES = {
  'conversation.create': 'Conversation created',
  'conversation.update': 'Conversation changed',
  'conversation.join': 'Joined a conversation by name and password',
  'conversation.join_failed': 'Failed attempt to join a conversation',
  'conversation.end': 'Conversation ended',
  'conversation.seal': 'Conversation transcript sealed',
  'conversation.delete': 'Conversation deleted',
  'conversation.participant_add': 'Participant added to a conversation',
  'conversation.participant_remove': 'Participant removed from a conversation',
  'conversation.participant_role_changed': "Participant's role in a conversation changed",
} as const;
