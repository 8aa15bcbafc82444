/** Audit actions of the webhooks module. */
export const WEBHOOKS_ACTIVITY_TYPES = {
  'webhook.create': 'Webhook created',
  'webhook.update': 'Webhook changed',
  'webhook.delete': 'Webhook deleted',
  'webhook.test': 'Webhook test event sent',
  'webhook.redeliver': 'Webhook delivery sent again',
  'webhook.disable': 'Webhook disabled after repeated failed deliveries',
} as const;
