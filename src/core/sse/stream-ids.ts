/** Orders two Redis stream ids (`<ms>-<seq>`): negative, zero or positive like a comparator. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

/** A resume point a client may send (`Last-Event-ID`); anything else starts from now. */
export function isStreamId(value: string | undefined): value is string {
  return value !== undefined && /^\d{1,15}-\d{1,15}$/.test(value);
}
