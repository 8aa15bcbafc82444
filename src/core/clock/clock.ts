/**
 * The one source of "now" for services, repositories and processors, so that every
 * timestamp of one operation can agree and tests move time instead of sleeping.
 * Inject `Clock`; the application binds it to `SystemClock`, tests may bind `TestClock`.
 */
export abstract class Clock {
  /** Milliseconds since the epoch. */
  abstract nowMs(): number;

  now(): Date {
    return new Date(this.nowMs());
  }

  /** `now` shifted by `ms` (negative for the past). */
  fromNow(ms: number): Date {
    return new Date(this.nowMs() + ms);
  }
}

export class SystemClock extends Clock {
  nowMs(): number {
    return Date.now();
  }
}

/** A clock that runs with real time plus an offset the test advances. */
export class TestClock extends Clock {
  private offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  reset(): void {
    this.offsetMs = 0;
  }
}

/** For code that runs outside Nest's container (CLI helpers, scripts). */
export const systemClock: Clock = new SystemClock();
