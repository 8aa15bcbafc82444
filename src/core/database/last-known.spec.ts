import { LastKnown } from './last-known';

const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
  code: 'ECONNREFUSED',
});

describe('LastKnown', () => {
  it('returns fresh values whenever the load succeeds', async () => {
    const cache = new LastKnown<number>();
    expect(await cache.get('a', () => Promise.resolve(1))).toBe(1);
    expect(await cache.get('a', () => Promise.resolve(2))).toBe(2);
  });

  it('serves the last known value only while the database is unreachable', async () => {
    const cache = new LastKnown<number>();
    await cache.get('a', () => Promise.resolve(1));
    expect(await cache.get('a', () => Promise.reject(outage))).toBe(1);
    await expect(cache.get('a', () => Promise.reject(new Error('syntax error')))).rejects.toThrow(
      'syntax error',
    );
    await expect(cache.get('b', () => Promise.reject(outage))).rejects.toBe(outage);
  });

  it('forgets values older than its maximum age and beyond its size', async () => {
    const aged = new LastKnown<number>(10, -1);
    await aged.get('a', () => Promise.resolve(1));
    await expect(aged.get('a', () => Promise.reject(outage))).rejects.toBe(outage);
    const small = new LastKnown<number>(1);
    await small.get('a', () => Promise.resolve(1));
    await small.get('b', () => Promise.resolve(2));
    await expect(small.get('a', () => Promise.reject(outage))).rejects.toBe(outage);
  });
});
