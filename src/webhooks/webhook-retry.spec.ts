import { DEFAULT_RETRY_DELAYS, parseRetryDelays, retryDelayAfter } from './webhook-retry';
import { Environment } from '../core/config/environment';

describe('webhook retry schedule (SPEC section 11)', () => {
  it('defaults to 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts over about a day', () => {
    expect(new Environment().WEBHOOK_RETRY_DELAYS).toBe(DEFAULT_RETRY_DELAYS);
    const delays = parseRetryDelays(DEFAULT_RETRY_DELAYS);
    expect(delays).toEqual([5e3, 300e3, 1800e3, 7200e3, 18000e3, 36000e3, 36000e3]);
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeCloseTo(27.6, 1);
  });

  it('retries after attempts 1..7 and gives up after the 8th', () => {
    const delays = parseRetryDelays('1ms,2s,3m,4h');
    expect(delays).toEqual([1, 2000, 180000, 14400000]);
    expect(retryDelayAfter(delays, 1)).toBe(1);
    expect(retryDelayAfter(delays, 4)).toBe(14400000);
    expect(retryDelayAfter(delays, 5)).toBeNull();
    expect(retryDelayAfter(delays, 0)).toBeNull();
  });
});
