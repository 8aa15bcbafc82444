import { SystemClock, TestClock } from './clock';

describe('Clock', () => {
  it('the system clock follows real time', () => {
    const before = Date.now();
    const now = new SystemClock().nowMs();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('a test clock moves forward by what the test advances, without sleeping', () => {
    const clock = new TestClock();
    const start = clock.nowMs();
    clock.advance(3_600_000);
    expect(clock.nowMs() - start).toBeGreaterThanOrEqual(3_600_000);
    expect(clock.nowMs() - start).toBeLessThan(3_600_000 + 1_000);
    expect(clock.fromNow(-3_600_000).getTime()).toBeLessThanOrEqual(clock.nowMs() - 3_600_000);
    clock.reset();
    expect(clock.nowMs() - start).toBeLessThan(1_000);
  });
});
