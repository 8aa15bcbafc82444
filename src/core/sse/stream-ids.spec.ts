import { compareStreamIds, isStreamId } from './stream-ids';

describe('stream ids', () => {
  it('orders by milliseconds, then by sequence, numerically', () => {
    expect(compareStreamIds('2-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('5-10', '5-9')).toBeGreaterThan(0);
    expect(compareStreamIds('7-3', '7-3')).toBe(0);
    expect(compareStreamIds('0-0', '1796399490366-0')).toBeLessThan(0);
  });

  it('accepts only <ms>-<seq> as a resume point', () => {
    expect(isStreamId('1796399490366-12')).toBe(true);
    for (const value of [undefined, '', 'not-an-id', '1-', '-1', '1-2-3', '$', '+', '1 -2'])
      expect(isStreamId(value)).toBe(false);
  });
});
