/** SPEC section 11: a failed delivery is retried after these delays; 8 attempts in all. */
export const DEFAULT_RETRY_DELAYS = '5s,5m,30m,2h,5h,10h,10h';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `5s,5m,2h` → milliseconds. The environment schema has already checked the syntax. */
export function parseRetryDelays(spec: string): number[] {
  return spec.split(',').map((part) => {
    const match = /^\s*(\d+)(ms|s|m|h)\s*$/.exec(part);
    if (!match) throw new Error(`Not a duration: ${part}`);
    return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  });
}

/**
 * After attempt number `attempts` (1-based) failed: the delay before the next one, or null
 * when the schedule is used up and the delivery has failed for good.
 */
export function retryDelayAfter(delays: readonly number[], attempts: number): number | null {
  return attempts >= 1 && attempts <= delays.length ? delays[attempts - 1]! : null;
}
