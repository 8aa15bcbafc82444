import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook } from './webhook-signature';

describe('webhook signatures (Standard Webhooks)', () => {
  it('issues whsec_ secrets of 32 random bytes', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('signs exactly as the standardwebhooks package does, and it verifies', () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({
      type: 'case.created',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: {},
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = signWebhook(secret, 'delivery-1', timestamp, body);
    const reference = new Webhook(secret);
    expect(signature).toBe(reference.sign('delivery-1', new Date(timestamp * 1000), body));
    expect(
      reference.verify(body, {
        'webhook-id': 'delivery-1',
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      }),
    ).toEqual(JSON.parse(body));
  });

  it('fails verification for another body or secret', () => {
    const secret = newWebhookSecret();
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'd',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(secret, 'd', timestamp, '{"a":1}'),
    };
    expect(() => new Webhook(secret).verify('{"a":2}', headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify('{"a":1}', headers)).toThrow();
  });
});
