/** Every BullMQ queue of the service. Each has exactly one processor class. */
export enum QueueName {
  TurnPersistence = 'turn-persistence',
  AudioArchive = 'audio-archive',
  Retention = 'retention',
  AuditCheckpoint = 'audit-checkpoint',
  ConversationIdle = 'conversation-idle',
  CaseExport = 'case-export',
  Maintenance = 'maintenance',
  Webhooks = 'webhooks',
  NotificationRetention = 'notification-retention',
}
