/**
 * Something that happened to a resource, published inside the transaction that made it
 * happen so that whatever subscribers write (notifications, webhook deliveries) commits
 * or rolls back with it: never lost, never duplicated, nothing for a rolled-back change.
 */
export const NOTIFICATION_TYPES = [
  'transcription.created',
  'transcription.failed',
  'analysis.created',
  'audio.archived',
  'audio.restored',
  'audio.integrity_failed',
  'job.failed',
  'conversation.ended',
  'case.participant_added',
  'backup.failed',
  // Beyond SPEC section 11's list: the issue asks that admins hear of an endpoint disabled
  // after 20 failed deliveries in a row, and a notification is how admins hear of things.
  'webhook.disabled',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** Events webhooks may subscribe to besides the notification types (SPEC section 11). */
export const WEBHOOK_ONLY_TYPES = ['audio.uploaded', 'case.created', 'case.closed'] as const;

export const DOMAIN_EVENT_TYPES = [...NOTIFICATION_TYPES, ...WEBHOOK_ONLY_TYPES] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

export interface DomainEvent {
  type: DomainEventType;
  /** Who caused it; `null` for the system (a job, the scheduler). Never notified. */
  actorId: string | null;
  /** The case concerned, when there is one: its participants are the usual recipients. */
  caseId: string | null;
  resourceType: string;
  resourceId: string;
  /** A short human line for notification lists ("Transcription v2 of hearing.wav"). */
  title: string;
  /** Recipients beyond the case participants (a job's requester, the added user). */
  alsoNotify?: string[];
  /** Only these users are notified (e.g. admins for `backup.failed`); overrides the case. */
  notifyOnly?: string[];
  /** Public facts about the resource: ids, names, versions. Never secrets. */
  data: Record<string, unknown>;
  occurredAt: Date;
}
