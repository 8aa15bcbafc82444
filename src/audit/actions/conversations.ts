/** Audit actions of the conversations module (never one per turn). */
export const CONVERSATIONS_ACTIVITY_TYPES = {
  'conversation.create': 'Conversation created',
  'conversation.update': 'Conversation changed',
  'conversation.join': 'Joined a conversation by name and password',
  'conversation.join_failed': 'Failed attempt to join a conversation',
  'conversation.end': 'Conversation ended',
  'conversation.seal': 'Conversation transcript sealed',
} as const;
